using System.Diagnostics;
using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Datasets;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only grouped-leaderboard --avdigits …</c>: the leaderboard on avdigits with leave-one-speaker-out (what
/// <c>mlnetfusion avdigits --group Speaker</c> runs): its wall time against issue 25's 20 minutes, and every entry's
/// leave-one-speaker-out accuracy with the recommended model against the best single candidate (issue 23).
/// </summary>
internal static class GroupedLeaderboardBenchmark
{
    public const double TargetMinutes = 20;
    public const double TargetRecommendedAccuracy = 0.93;

    public static void Run(string avdigits, int epochs, int earlyStopping)
    {
        var clock = Stopwatch.StartNew();
        var ds = MultimodalDataset.AvDigits(avdigits, "Speaker");
        var ml = new MLContext(seed: 1);
        var (train, test, _) = ds.Featurize(ml);
        train.Preview(1);
        using var result = ml.Fusion().CreateLeaderboard(train, test, ds.Featurization, new FusionLeaderboardOptions
        {
            GroupColumnName = "Speaker", LeaveOneGroupOut = true, Epochs = epochs, EarlyStoppingPatience = earlyStopping,
            EntryFinished = (e, all) => Console.Error.WriteLine($"[{all.Count}] {e.Family}: {e.Name} → {e.Error ?? $"group-out {e.GroupOutAccuracy:P1}, test {e.Accuracy:P1}"} ({e.TrainingTime.TotalSeconds:F0} s; {clock.Elapsed.TotalSeconds:F0} s in all)"),
        });
        double minutes = clock.Elapsed.TotalMinutes;
        var singles = result.Entries.Where(e => e.Error == null && e.Kind != CandidateKind.Ensemble && e.GroupOutAccuracy is double).ToList();
        var best = singles.OrderByDescending(e => e.GroupOutAccuracy).FirstOrDefault();
        var r = result.Recommended;
        Emit(new
        {
            benchmark = "grouped_leaderboard", dataset = "avdigits", group = "Speaker", epochs, early_stopping = earlyStopping,
            minutes = Math.Round(minutes, 1), target_minutes = TargetMinutes, time_met = minutes <= TargetMinutes,
            recommended = r is null ? null : $"{r.Family}: {r.Name}", recommended_group_out = r?.GroupOutAccuracy is double g ? Math.Round(g, 4) : (double?)null,
            best_single = best is null ? null : $"{best.Family}: {best.Name}", best_single_group_out = best?.GroupOutAccuracy is double b ? Math.Round(b, 4) : (double?)null,
            target_recommended_group_out = TargetRecommendedAccuracy,
            accuracy_met = r?.GroupOutAccuracy is double rg && best?.GroupOutAccuracy is double bg && rg >= bg && rg >= TargetRecommendedAccuracy,
            entries = result.Entries.Select(e => new { family = e.Family, name = e.Name, group_out = e.GroupOutAccuracy is double x ? Math.Round(x, 4) : (double?)null,
                worst_group = e.WorstGroupAccuracy is double w ? Math.Round(w, 4) : (double?)null, test = e.Error == null ? Math.Round(e.Accuracy, 4) : (double?)null,
                seconds = Math.Round(e.TrainingTime.TotalSeconds, 1), notes = e.Notes, error = e.Error }),
        });
    }
}
