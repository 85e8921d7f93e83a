using System.Diagnostics;
using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Datasets;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only baselines</c>: the whole leaderboard (baselines, fusion families, single modalities, the ensemble)
/// on generated data the project was not shaped on: a tabular set led by a high-cardinality code and a skewed number,
/// a text set with one informative and two uninformative text columns, and the weak-modality set (several copies).
/// Each line gives every entry's validation and test accuracy, the recommended entry and the best single candidate.
/// </summary>
internal static class BaselineBenchmark
{
    public static void Run(int epochs, int copies)
    {
        var root = Path.Combine(DefaultPaths.Artifacts, "data");
        Board("tabular_codes", MultimodalDataset.FromCsv(Path.Combine(BaselineDatasets.Tabular(Path.Combine(root, "baseline-tabular")), "train.csv"),
            Path.Combine(root, "baseline-tabular", "test.csv"), "Label"), epochs);
        Board("text_weak_columns", MultimodalDataset.FromCsv(Path.Combine(BaselineDatasets.Text(Path.Combine(root, "baseline-text")), "train.csv"),
            Path.Combine(root, "baseline-text", "test.csv"), "Label",
            roles: new Dictionary<string, string> { ["Title"] = nameof(ColumnRole.Text), ["Channel"] = nameof(ColumnRole.Text) }), epochs);
        for (int copy = 0; copy < copies; copy++)
        {
            int seed = 7 + copy;
            string folder = WeakModalityDataset.EnsureGenerated(Path.Combine(Path.GetTempPath(), "mlnetfusion-weak", $"seed{seed}"), seed);
            Board($"weak_modality_seed{seed}", MultimodalDataset.FromCsv(Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv"), "Label"), epochs);
        }
    }

    private static void Board(string name, MultimodalDataset ds, int epochs)
    {
        var ml = new MLContext(seed: 1);
        var clock = Stopwatch.StartNew();
        var (train, test, _) = ds.Featurize(ml);
        using var result = ml.Fusion().CreateLeaderboard(train, test, ds.Featurization, new FusionLeaderboardOptions { Epochs = epochs, GroupColumnName = ds.GroupColumn });
        var singles = result.Entries.Where(e => e.Error == null && e.Kind != CandidateKind.Ensemble).ToList();
        var bestSingle = singles.OrderByDescending(e => e.Accuracy).First();
        var rec = result.Recommended!;
        Emit(new
        {
            benchmark = "baselines", dataset = name, rows = train.GetRowCount(), epochs, seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            recommended = $"{rec.Family}: {rec.Name}", recommended_test_accuracy = Math.Round(rec.Accuracy, 4),
            best_single_candidate = $"{bestSingle.Family}: {bestSingle.Name}", best_single_test_accuracy = Math.Round(bestSingle.Accuracy, 4),
            margin_points = Math.Round(100 * (rec.Accuracy - bestSingle.Accuracy), 2),
            lbfgs_baseline_test_accuracy = singles.FirstOrDefault(e => e.Kind == CandidateKind.Baseline && e.Name.Contains("L-BFGS", StringComparison.Ordinal) && e.Name.StartsWith("Concatenate", StringComparison.Ordinal)) is { } b ? Math.Round(b.Accuracy, 4) : (double?)null,
            ensemble_members = result.Entries.FirstOrDefault(e => e.Kind == CandidateKind.Ensemble)?.Members?.Select(m => $"{m.Member} {m.Weight:F2}"),
            entries = result.Entries.Select(e => new
            {
                kind = e.Kind.ToString(), family = e.Family, name = e.Name, validation = Round(e.ValidationAccuracy), test = Round(e.Accuracy), notes = e.Notes, error = e.Error,
            }),
        });
    }

    private static double? Round(double v) => double.IsFinite(v) ? Math.Round(v, 4) : null;
}
