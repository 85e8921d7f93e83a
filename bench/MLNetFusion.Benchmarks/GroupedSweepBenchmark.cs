using MLNetFusion.AutoML.Sweep;

using MLNetFusion.Data;
using MLNetFusion.Datasets;
using Microsoft.ML;
using System.Diagnostics;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary><c>bench --only group-sweep</c>: the grouped sweep against every family, by leave-one-speaker-out.</summary>
internal static class GroupedSweepBenchmark
{
    /// <summary>
    /// Choosing under shift (<c>bench --only group-sweep --avdigits DIR</c>): every leaderboard family with its defaults
    /// is scored by leave-one-speaker-out on avdigits' train.csv; then a sweep whose trials are validated by grouped
    /// folds (one speaker per fold) runs within the budget, and its chosen configuration is scored by the same
    /// leave-one-speaker-out. Target: the choice within 1 point of the best family.
    /// </summary>
    public static void GroupedSweepAgainstFamilies(string folder, TimeSpan budget)
    {
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.AvDigits(folder);
        var (train, test, _) = ds.Featurize(ml);
        train.Preview(1);
        var groups = SamplingKeyGroups.Read(train, ds.GroupColumn!);
        var families = new List<object>();
        double best = 0; string bestName = "";
        var sw = Stopwatch.StartNew();
        foreach (var c in Candidates.All(ds, Candidates.Epochs))
        {
            var perGroup = CandidateRunner.LeaveOneGroupOut(ml, ds, c, train, groups);
            double mean = perGroup.Values.Average();
            families.Add(new { family = c.FamilyName, name = c.Name, group_out_accuracy = Math.Round(mean, 4), worst_group_accuracy = Math.Round(perGroup.Values.Min(), 4) });
            if (mean > best) { best = mean; bestName = $"{c.FamilyName}: {c.Name}"; }
        }
        Emit(new { benchmark = "family_defaults_leave_one_speaker_out", dataset = "avdigits", best_group_out_accuracy = Math.Round(best, 4), best = bestName,
            seconds = Math.Round(sw.Elapsed.TotalSeconds, 1), families });

        var outcome = CandidateRunner.Sweep(ml, ds, train, test, budget, new SuccessiveHalvingTuner(), seed: 1, folds: groups.Count, grouped: true);
        var r = outcome.Result;
        var chosen = outcome.Experiment.CreateEstimator(r.BestTrial.Settings);
        var choicePerGroup = new Dictionary<string, double>();
        foreach (var (group, foldTrain, foldTest) in groups.LeaveOneGroupOut(train))
        {
            var model = chosen.Fit(ml.Data.Cache(foldTrain));
            choicePerGroup[group] = ml.MulticlassClassification.Evaluate(model.Transform(foldTest), ds.LabelColumn).MicroAccuracy;
            (model as IDisposable)?.Dispose();
        }
        double choice = choicePerGroup.Values.Average();
        Emit(new
        {
            benchmark = "grouped_sweep_vs_family_defaults", dataset = "avdigits", group = ds.GroupColumn, folds = groups.Count, budget_minutes = budget.TotalMinutes,
            cores = Environment.ProcessorCount, sweep_choice = r.BestTrial.Settings.ToString(), sweep_modalities = r.BestTrial.Settings.Modalities,
            sweep_validation_accuracy = Math.Round(r.BestTrial.Accuracy, 4), sweep_choice_group_out_accuracy = Math.Round(choice, 4),
            sweep_choice_per_group = choicePerGroup.ToDictionary(p => p.Key, p => Math.Round(p.Value, 4)),
            sweep_choice_test_accuracy = Math.Round(outcome.TestAccuracy, 4),
            best_family_group_out_accuracy = Math.Round(best, 4), best_family = bestName,
            gap_points = Math.Round(100 * (best - choice), 2), target_gap_points = 1.0,
            sweep_trials = r.Trials.Count, sweep_epochs = r.TotalEpochs, sweep_seconds_including_refit = Math.Round(r.Elapsed.TotalSeconds, 1),
            trials = r.Trials.Select(t => new
            {
                id = t.Settings.TrialId, status = t.Status.ToString(), settings = t.Settings.ToString(),
                accuracy = double.IsNaN(t.Accuracy) ? (double?)null : Math.Round(t.Accuracy, 4), epochs = t.EpochsTrained, seconds = Math.Round(t.Duration.TotalSeconds, 1),
            }),
        });
        foreach (var t in (IEnumerable<ITransformer>)r.Model) (t as IDisposable)?.Dispose();
    }
}
