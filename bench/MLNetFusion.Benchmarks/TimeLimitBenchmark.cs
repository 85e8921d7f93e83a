using System.Diagnostics;
using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Datasets;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only time-limit</c>: the default leaderboard on a generated 12,000-row text-plus-tabular CSV
/// (<see cref="BaselineDatasets.TextAndTabular"/>), featurized once, run without a limit and then with a time limit (10
/// minutes unless <c>--time-limit-minutes</c>), in one run: each run's wall time, the recommended entry and its test
/// accuracy, the candidates skipped or stopped, and the recommended entries' difference in points.
/// </summary>
internal static class TimeLimitBenchmark
{
    public static void Run(double limitMinutes, int epochs)
    {
        var folder = BaselineDatasets.TextAndTabular(Path.Combine(DefaultPaths.Artifacts, "data", "text-and-tabular-12000"));
        var ds = MultimodalDataset.FromCsv(Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv"), "Label");
        var ml = new MLContext(seed: 1);
        var clock = Stopwatch.StartNew();
        var (train, test, _) = ds.Featurize(ml);
        train.Preview(1); test.Preview(1);
        double featurizeSeconds = clock.Elapsed.TotalSeconds;
        Emit(new { benchmark = "time_limit_featurization", rows = 15_000, seconds = Math.Round(featurizeSeconds, 1), pretrained = ds.Featurization.PretrainedNames });

        (double seconds, LeaderboardEntry? recommended, List<LeaderboardEntry> entries) Board(TimeSpan? limit)
        {
            var watch = Stopwatch.StartNew();
            using var result = ml.Fusion().CreateLeaderboard(train, test, ds.Featurization, new FusionLeaderboardOptions { Epochs = epochs, TimeLimit = limit });
            return (watch.Elapsed.TotalSeconds, result.Recommended, result.Entries.ToList());
        }
        var unlimited = Board(null);
        Emit(Line("unlimited", null, unlimited));
        var limited = Board(TimeSpan.FromMinutes(limitMinutes));
        Emit(Line("limited", limitMinutes, limited));
        Emit(new
        {
            benchmark = "time_limit_comparison", limit_minutes = limitMinutes, limited_seconds = Math.Round(limited.seconds, 1), unlimited_seconds = Math.Round(unlimited.seconds, 1),
            target_seconds = limitMinutes * 60 + 60, met_time = limited.seconds <= limitMinutes * 60 + 60,
            recommended_test_accuracy_points_below_unlimited = Math.Round(100 * ((unlimited.recommended?.Accuracy ?? double.NaN) - (limited.recommended?.Accuracy ?? double.NaN)), 2),
            target_points = 1.0,
        });
    }

    private static object Line(string run, double? limitMinutes, (double seconds, LeaderboardEntry? recommended, List<LeaderboardEntry> entries) r) => new
    {
        benchmark = "time_limit_leaderboard", run, limit_minutes = limitMinutes, seconds = Math.Round(r.seconds, 1),
        recommended = r.recommended is { } e ? $"{e.Family}: {e.Name}" : null, recommended_validation = r.recommended?.ValidationAccuracy, recommended_test = r.recommended?.Accuracy,
        finished = r.entries.Count(e => e.Error == null), skipped_or_stopped = r.entries.Where(e => e.SkippedByTimeLimit).Select(e => $"{e.Family}: {e.Name}: {e.Error}").ToArray(),
        failed = r.entries.Where(e => e.Error != null && !e.SkippedByTimeLimit).Select(e => $"{e.Family}: {e.Name}: {e.Error}").ToArray(),
        entries = r.entries.Where(e => e.Error == null).Select(e => new { name = $"{e.Family}: {e.Name}", validation = Math.Round(e.ValidationAccuracy, 4), test = Math.Round(e.Accuracy, 4), seconds = Math.Round(e.TrainingTime.TotalSeconds, 1) }).ToArray(),
    };
}
