using MLNetFusion.Data;
using MLNetFusion.Trainers.Early;
using Microsoft.ML.Data;
using Microsoft.ML;
using System.Diagnostics;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary><c>bench --only streaming</c>: peak memory of a streaming fit.</summary>
internal static class StreamingBenchmark
{
    private sealed class WideRow
    {
        public uint Label { get; set; }
        [VectorType(64)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    /// <summary>Peak memory of a streaming fit: it must not grow with the number of rows.</summary>
    public static void Streaming(int largeRows)
    {
        foreach (int n in new[] { largeRows / 10, largeRows })
        {
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            var ml = new MLContext(seed: 1);
            IEnumerable<WideRow> Generate()
            {
                var r = new Random(1);
                for (int i = 0; i < n; i++)
                {
                    uint y = (uint)r.Next(4);
                    var f = new float[64];
                    for (int k = 0; k < 64; k++) f[k] = (float)r.NextDouble();
                    f[y] += 1;
                    yield return new WideRow { Label = y + 1, Features = f };
                }
            }
            var schema = SchemaDefinition.Create(typeof(WideRow));
            schema["Label"].ColumnType = new KeyDataViewType(typeof(uint), 4);
            var data = ml.Data.LoadFromEnumerable(Generate(), schema);
            long baseline = Environment.WorkingSet;
            long peak = baseline;
            using var done = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!done.IsCancellationRequested) { peak = Math.Max(peak, Process.GetCurrentProcess().WorkingSet64); await Task.Delay(20); }
            });
            var sw = Stopwatch.StartNew();
            using (var model = ml.MulticlassClassification.Trainers.FusionMlp(new FusionMlpOptions
            {
                Epochs = 1, BatchSize = 256, Caching = DataCaching.Streaming, ShuffleBufferRows = 8192, HiddenWidths = new[] { 64 },
            }).Fit(data)) { }
            done.Cancel();
            sampler.Wait();
            Emit(new { benchmark = "streaming_fit_memory", rows = n, seconds = Math.Round(sw.Elapsed.TotalSeconds, 1), baseline_mb = baseline / 1048576,
                peak_working_set_mb = peak / 1048576, growth_mb = (peak - baseline) / 1048576 });
        }
    }
}
