using MLNetFusion.Datasets;
using Microsoft.ML;
using System.Diagnostics;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary><c>bench --only infer</c>: column inference time on 10,000 rows.</summary>
internal static class ColumnInferenceBenchmark
{
    /// <summary>Column inference on a 10,000-row CSV of the generated dataset (images and clips decoded to check them).</summary>
    public static void InferenceTime()
    {
        var folder = SyntheticMultimodalDataset.EnsureGenerated(DefaultPaths.SyntheticData10k, trainRows: 10_000, testRows: 10);
        var ml = new MLContext(seed: 1);
        var watch = Stopwatch.StartNew();
        var result = ml.Fusion().InferColumns(Path.Combine(folder, "train.csv"), "Label", "Site");
        double first = watch.Elapsed.TotalSeconds;
        watch.Restart();
        result = ml.Fusion().InferColumns(Path.Combine(folder, "train.csv"), "Label", "Site");
        Emit(new { benchmark = "column_inference", rows = result.RowCount, seconds_first_run = Math.Round(first, 3), seconds_warm = Math.Round(watch.Elapsed.TotalSeconds, 3),
            roles = result.Columns.ToDictionary(c => c.Name, c => c.RoleName) });
    }
}
