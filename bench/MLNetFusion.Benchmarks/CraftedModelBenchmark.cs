using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Persistence;
using MLNetFusion.Trainers.Merge;
using static MLNetFusion.Benchmarks.Measure;
using static MLNetFusion.Benchmarks.BenchRows;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only crafted</c>: a small, validly hashed model file whose configuration claims a 20,000-wide network (two
/// hidden layers of 20,000 units on a 2,520-value input: 450 million parameters, 1.8 GB of floats). Loading must refuse
/// it before allocating: the time and the peak resident memory of the load attempts.
/// </summary>
internal static class CraftedModelBenchmark
{
    public static void Run()
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromEnumerable(AvShaped(200, 1));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw);
        using var merge = ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions
        {
            Modalities = new() { ModalityOptions.Image("Pixels", "image"), ModalityOptions.Tabular("LogMel", "mel", 32) }, Epochs = 1,
        }).Fit(keyed.Transform(raw));
        using var ms = new MemoryStream();
        ml.Model.SaveFusionModel(new TransformerChain<ITransformer>(keyed, merge), raw.Schema, ms);
        // 20,000 is beyond the documented widths; 4,096 is allowed, so only the weights-against-configuration check can refuse it.
        foreach (int width in new[] { 20_000, 4_096 }) Attempt(Claim(ms.ToArray(), width), width);
    }

    private static void Attempt(byte[] file, int width)
    {
        using var process = Process.GetCurrentProcess();
        GC.Collect();
        process.Refresh();
        long before = process.WorkingSet64, peakBefore = process.PeakWorkingSet64;
        string? error = null;
        var times = new List<double>();
        for (int i = 0; i < 10; i++)
        {
            var sw = Stopwatch.StartNew();
            try { (new MLContext(seed: 2).Model.LoadFusionModel(new MemoryStream(file), out _) as IDisposable)?.Dispose(); error = "loaded"; }
            catch (FusionModelFormatException ex) { error = ex.Message.Split('\n')[0]; }
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        process.Refresh();
        Emit(new
        {
            benchmark = "crafted_model_file", claim = $"merge fusion with a 2,520-value tabular modality through {width:N0} x {width:N0} hidden layers",
            claimed_parameters = 2520.0 * width + (double)width * width, file_bytes = file.Length,
            median_load_attempt_ms = Math.Round(Median(times), 1), rss_before_mb = before / 1048576, rss_after_mb = process.WorkingSet64 / 1048576,
            peak_rss_before_mb = peakBefore / 1048576, peak_rss_after_mb = process.PeakWorkingSet64 / 1048576, result = error,
        });
    }

    /// <summary>The file with its tabular modality claiming two hidden layers of <paramref name="width"/> units, and the edited entry's size and SHA-256 recomputed.</summary>
    private static byte[] Claim(byte[] file, int width)
    {
        using var ms = new MemoryStream();
        ms.Write(file);
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Update, leaveOpen: true))
        {
            var manifestEntry = zip.GetEntry("manifest.json")!;
            JsonNode manifest;
            using (var s = manifestEntry.Open()) manifest = JsonNode.Parse(s)!;
            var info = manifest["components"]!.AsArray().First(c => (string?)c!["kind"] == "MLNetFusion.FusionPrediction")!["entries"]!["config"]!;
            var configEntry = zip.GetEntry((string)info["path"]!)!;
            JsonNode config;
            using (var s = configEntry.Open()) config = JsonNode.Parse(s)!;
            var options = JsonNode.Parse((string)config["options"]!)!;
            options["modalities"]![1]!["hiddenWidths"] = new JsonArray(width, width);
            config["options"] = options.ToJsonString();
            var bytes = System.Text.Encoding.UTF8.GetBytes(config.ToJsonString());
            configEntry.Delete();
            using (var s = zip.CreateEntry((string)info["path"]!).Open()) s.Write(bytes);
            info["size"] = bytes.Length;
            info["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes));
            manifestEntry.Delete();
            using (var s = zip.CreateEntry("manifest.json").Open()) s.Write(System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString()));
        }
        return ms.ToArray();
    }
}
