using MLNetFusion.Trainers;
using System.Diagnostics;
using Microsoft.ML;
using MLNetFusion.Data;
using MLNetFusion.Samples.Leaderboard;
using MLNetFusion.Samples.Pipelines;
using MLNetFusion.AutoML.Sweep;

namespace MLNetFusion.Samples.Bench;

public static partial class Benchmarks
{
    /// <summary>
    /// Choosing under shift (<c>bench --only group-sweep --avdigits DIR</c>): every leaderboard family with its defaults
    /// is scored by leave-one-speaker-out on avdigits' train.csv; then a sweep whose trials are validated by grouped
    /// folds (one speaker per fold) runs within the budget, and its chosen configuration is scored by the same
    /// leave-one-speaker-out. Target: the choice within 1 point of the best family.
    /// </summary>
    private static void GroupedSweepAgainstFamilies(string folder, TimeSpan budget)
    {
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.AvDigits(folder);
        var (train, test, _) = ds.Featurize(ml);
        train.Preview(1);
        var groups = SamplingKeyGroups.Read(train, ds.GroupColumn!);
        var families = new List<object>();
        double best = 0; string bestName = "";
        var sw = Stopwatch.StartNew();
        foreach (var c in Candidates.All(Candidates.Epochs))
        {
            var perGroup = LeaderboardRunner.LeaveOneGroupOut(ml, ds, c, train, groups);
            double mean = perGroup.Values.Average();
            families.Add(new { family = c.FamilyName, name = c.Name, group_out_accuracy = Math.Round(mean, 4), worst_group_accuracy = Math.Round(perGroup.Values.Min(), 4) });
            if (mean > best) { best = mean; bestName = $"{c.FamilyName}: {c.Name}"; }
        }
        Emit(new { benchmark = "family_defaults_leave_one_speaker_out", dataset = "avdigits", best_group_out_accuracy = Math.Round(best, 4), best = bestName,
            seconds = Math.Round(sw.Elapsed.TotalSeconds, 1), families });

        var outcome = SweepJob.Search(ml, ds, train, test, budget, null, new SuccessiveHalvingTuner(), seed: 1, folds: groups.Count, grouped: true);
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

public static partial class Benchmarks
{
    /// <summary>
    /// Late fusion under shift (<c>bench --only late-logo --avdigits DIR [--late-members linear|cnn]</c>): every combiner
    /// scored by leave-one-speaker-out on avdigits' train.csv, with out-of-fold folds grouped by speaker, and each fitted
    /// model's weights or member temperatures. Target: weighted average and stacking at least as good as the plain average.
    /// </summary>
    private static void LateFusionUnderShift(string folder, string members, string[] combiners)
    {
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.AvDigits(folder);
        var (train, _, _) = ds.Featurize(ml);
        train.Preview(1);
        var groups = SamplingKeyGroups.Read(train, ds.GroupColumn!);
        foreach (var combiner in Enum.GetValues<MLNetFusion.Trainers.LateFusion.LateFusionCombiner>())
        {
            if (combiners.Length > 0 && !combiners.Contains(combiner.ToString(), StringComparer.OrdinalIgnoreCase)) continue;
            var sw = Stopwatch.StartNew();
            var perGroup = new Dictionary<string, double>();
            var details = new List<string>();
            foreach (var (group, foldTrain, foldTest) in groups.LeaveOneGroupOut(train))
            {
                var memberList = members == "cnn" ? Candidates.LateMembers(ml, ds, Candidates.Epochs)
                    : ds.Modalities().Select(m => new MLNetFusion.Trainers.LateFusion.LateFusionMember(m.Name, m.ColumnName,
                        ml.Transforms.NormalizeMinMax("__n." + m.Name, m.ColumnName).Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(ds.LabelColumn, "__n." + m.Name)))).ToList();
                using var model = ml.MulticlassClassification.Trainers.LateFusion(new MLNetFusion.Trainers.LateFusion.LateFusionOptions
                {
                    Members = memberList, Combiner = combiner, NumberOfFolds = 3, SamplingKeyColumnName = ds.GroupColumn, Seed = 1,
                }).Fit(ml.Data.Cache(foldTrain));
                perGroup[group] = ml.MulticlassClassification.Evaluate(model.Transform(foldTest), ds.LabelColumn).MicroAccuracy;
                if (model.Weights is { } w) details.Add($"{group}: weights {string.Join("/", w.Select(x => x.ToString("F2")))}");
            }
            Emit(new { benchmark = "late_fusion_leave_one_speaker_out", members, combiner = combiner.ToString(), group_out_accuracy = Math.Round(perGroup.Values.Average(), 4),
                worst_group_accuracy = Math.Round(perGroup.Values.Min(), 4), per_group = perGroup.ToDictionary(p => p.Key, p => Math.Round(p.Value, 4)), details,
                seconds = Math.Round(sw.Elapsed.TotalSeconds, 1) });
        }
    }
}

public static partial class Benchmarks
{
    /// <summary>Column inference on a 10,000-row CSV of the generated dataset (images and clips decoded to check them).</summary>
    private static void InferenceTime()
    {
        var folder = Data.SyntheticMultimodalDataset.EnsureGenerated(Path.Combine("artifacts", "data", "synthetic-10k"), trainRows: 10_000, testRows: 10);
        var ml = new MLContext(seed: 1);
        var watch = Stopwatch.StartNew();
        var result = ml.Fusion().InferColumns(Path.Combine(folder, "train.csv"), "Label", "Site");
        double first = watch.Elapsed.TotalSeconds;
        watch.Restart();
        result = ml.Fusion().InferColumns(Path.Combine(folder, "train.csv"), "Label", "Site");
        Emit(new { benchmark = "column_inference", rows = result.RowCount, seconds_first_run = Math.Round(first, 3), seconds_warm = Math.Round(watch.Elapsed.TotalSeconds, 3),
            roles = result.Columns.ToDictionary(c => c.Name, c => c.Role.ToString()) });
    }
}
