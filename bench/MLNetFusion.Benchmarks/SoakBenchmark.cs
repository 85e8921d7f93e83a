using MLNetFusion.Models;
using MLNetFusion.Trainers.Merge;
using Microsoft.ML.Data;
using Microsoft.ML;
using System.Diagnostics;
using static MLNetFusion.Benchmarks.Measure;
using static MLNetFusion.Benchmarks.BenchRows;

namespace MLNetFusion.Benchmarks;

/// <summary><c>bench --only soak</c>: memory of a loaded model over many predictions.</summary>
internal static class SoakBenchmark
{
    /// <summary>
    /// Soak: 100,000 PredictionEngine predictions on a neural-fusion model saved to a file and loaded with a fresh
    /// MLContext. Resident memory must stay within 10% of its level after the first 1,000 predictions; disposing the
    /// loaded model frees its native memory.
    /// </summary>
    public static void Soak(int predictions)
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromEnumerable(AvShaped(1000, 1));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw);
        var data = keyed.Transform(raw);
        var merge = ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions
        {
            Modalities = new() { ModalityOptions.Image("Pixels", "image"), ModalityOptions.Audio("LogMel", "audio") }, Epochs = 1,
        }).Fit(data);
        var path = Path.Combine(Path.GetTempPath(), $"mlnetfusion-soak-{Environment.ProcessId}.zip");
        using (var chain = new TransformerChain<ITransformer>(keyed, merge)) ml.Model.SaveFusionModel(chain, raw.Schema, path);

        long Rss() { using var p = Process.GetCurrentProcess(); return p.WorkingSet64; }
        var sw = Stopwatch.StartNew();
        var serving = new MLContext(seed: 2);
        var loaded = serving.Model.LoadFusionModel(path, out _);
        double loadMs = sw.Elapsed.TotalMilliseconds;
        var engine = serving.Model.CreatePredictionEngine<AvRow, ScoreRow>(loaded);
        var inputs = AvShaped(1000, 7);
        long afterFirst = 0, peak = 0;
        var samples = new List<object>();
        sw.Restart();
        for (int i = 1; i <= predictions; i++)
        {
            engine.Predict(inputs[i % inputs.Count]);
            if (i == 1000) { afterFirst = Rss(); peak = afterFirst; }
            if (i > 1000 && i % 1000 == 0)
            {
                long now = Rss();
                peak = Math.Max(peak, now);
                if (i % 20000 == 0) samples.Add(new { predictions = i, rss_mb = now / 1048576 });
            }
        }
        double seconds = sw.Elapsed.TotalSeconds;
        long end = Rss();
        engine.Dispose();
        ((IDisposable)loaded).Dispose();
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        long afterDispose = Rss();
        File.Delete(path);
        Emit(new { benchmark = "prediction_soak_loaded_model", model = "saved + loaded merge fusion (image CNN + audio CNN)", predictions, load_ms = Math.Round(loadMs, 1),
            predictions_per_second = Math.Round(predictions / seconds), rss_after_1000_mb = afterFirst / 1048576, rss_peak_mb = peak / 1048576, rss_end_mb = end / 1048576,
            peak_growth_percent = Math.Round(100.0 * (peak - afterFirst) / afterFirst, 2), target_percent = 10, rss_after_dispose_mb = afterDispose / 1048576, samples });
        merge.Dispose();
    }
}
