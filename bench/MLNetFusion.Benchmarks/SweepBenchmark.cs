using MLNetFusion.AutoML.Sweep;

using MLNetFusion.Datasets;
using MLNetFusion.Trainers;
using Microsoft.ML;
using System.Diagnostics;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary><c>bench --only sweep</c>: the sweep against every family at its defaults, in-distribution.</summary>
internal static class SweepBenchmark
{
    /// <summary>
    /// The sweep's done-when: on avdigits, the model the sweep chooses within the budget (validated on 20% of the
    /// training rows, refitted on all of them) against the best family trained with its defaults, both on the test split.
    /// </summary>
    public static void SweepAgainstDefaults(string folder, TimeSpan budget)
    {
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.AvDigits(folder);
        var (train, test, _) = ds.Featurize(ml);
        train.Preview(1);
        var defaults = new List<object>();
        double bestDefault = 0; string bestName = "";
        var sw = Stopwatch.StartNew();
        foreach (var c in Candidates.All(ds, Candidates.Epochs))
        {
            var e = CandidateRunner.Run(ml, ds, c, train, test);
            defaults.Add(new { family = e.Family, name = e.Name, accuracy = Math.Round(e.Accuracy, 4), seconds = Math.Round(e.TrainingTime.TotalSeconds, 1) });
            if (e.Accuracy > bestDefault) { bestDefault = e.Accuracy; bestName = $"{e.Family}: {e.Name}"; }
        }
        double defaultsSeconds = sw.Elapsed.TotalSeconds;
        Emit(new { benchmark = "family_defaults", dataset = "avdigits", best_default_test_accuracy = Math.Round(bestDefault, 4), best_default = bestName,
            seconds = Math.Round(defaultsSeconds, 1), defaults });
        var outcome = CandidateRunner.Sweep(ml, ds, train, test, budget, new SuccessiveHalvingTuner(), seed: 1);
        var r = outcome.Result;
        Emit(new
        {
            benchmark = "sweep_vs_family_defaults", dataset = "avdigits", budget_minutes = budget.TotalMinutes, cores = Environment.ProcessorCount,
            sweep_test_accuracy = Math.Round(outcome.TestAccuracy, 4), sweep_choice = r.BestTrial.Settings.ToString(), sweep_validation_accuracy = Math.Round(r.BestTrial.Accuracy, 4),
            sweep_trials = r.Trials.Count, sweep_epochs = r.TotalEpochs, sweep_seconds_including_refit = Math.Round(r.Elapsed.TotalSeconds, 1),
            best_default_test_accuracy = Math.Round(bestDefault, 4), best_default = bestName,
            gap_points = Math.Round(100 * (bestDefault - outcome.TestAccuracy), 2), target_gap_points = 0.5,
            trials = r.Trials.Select(t => new
            {
                id = t.Settings.TrialId, family = t.Settings.Family.Name(), status = t.Status.ToString(), settings = t.Settings.ToString(),
                accuracy = double.IsNaN(t.Accuracy) ? (double?)null : Math.Round(t.Accuracy, 4),
                worst_missing_modality = double.IsNaN(t.WorstMissingModalityMetric) ? (double?)null : Math.Round(t.WorstMissingModalityMetric, 4),
                epochs = t.EpochsTrained, seconds = Math.Round(t.Duration.TotalSeconds, 1),
            }),
        });
        foreach (var t in (IEnumerable<ITransformer>)r.Model) (t as IDisposable)?.Dispose();
    }
}
