using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Merge;
using static MLNetFusion.Benchmarks.Measure;
using static MLNetFusion.Benchmarks.BenchRows;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only onnx</c>: the bench's merge model (image CNN + audio CNN, attention) exported to ONNX; batch rows/s and
/// <c>PredictionEngine</c> latency through ONNX Runtime (raw sessions and ML.NET's <c>ApplyOnnxModel</c>) against the
/// TorchSharp <c>Transform</c> on the same model and rows, in one run; the largest probability difference and the file size;
/// the default path (a model with no engine set); and ONNX Runtime's own per-operator profile of the batches.
/// </summary>
internal static class OnnxBenchmark
{
    /// <summary>The bench's merge model (image CNN + audio CNN, attention, 2 epochs) fitted on 4,000 generated rows, with its data.</summary>
    internal static (MLContext ml, IDataView data, MLNetFusion.Trainers.FusionPredictionTransformer model) MergeModel()
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromEnumerable(AvShaped(4000, 1));
        var data = ml.Data.Cache(ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw));
        var options = new MergeFusionOptions
        {
            Modalities = new() { ModalityOptions.Image("Pixels", "image"), ModalityOptions.Audio("LogMel", "audio") },
            Epochs = 2, Operation = MergeOperation.Attention, Seed = 1,
        };
        return (ml, data, ml.MulticlassClassification.Trainers.MergeFusion(options).Fit(data));
    }

    public static void Run()
    {
        const int rows = 4000, batch = 256;
        var (ml, data, fitted) = MergeModel();
        using var model = fitted;
        var path = Path.Combine(Path.GetTempPath(), $"mlnetfusion-bench-{Environment.ProcessId}.onnx");
        try
        {
            var sw = Stopwatch.StartNew();
            var export = ml.Model.ExportFusionToOnnx(model, data.Schema, path);
            double exportSeconds = sw.Elapsed.TotalSeconds;
            var samples = AvShaped(rows, 1);
            var pixels = samples.SelectMany(r => r.Pixels).ToArray();
            var mel = samples.SelectMany(r => r.LogMel).ToArray();
            int threads = TorchSharp.torch.get_num_threads();
            using var sessionOptions = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            using var session = new InferenceSession(path, sessionOptions);

            (string name, OrtValue value)[] OnnxBatchValues(int start, int count) => new[]
            {
                ("Pixels", OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pixels.AsMemory(start * 784, count * 784), new long[] { count, 784 })),
                ("LogMel", OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, mel.AsMemory(start * 2520, count * 2520), new long[] { count, 2520 })),
            };
            float[] OnnxBatch(int start, int count)
            {
                var inputs = new[]
                {
                    NamedOnnxValue.CreateFromTensor("Pixels", new DenseTensor<float>(pixels.AsMemory(start * 784, count * 784), new[] { count, 784 })),
                    NamedOnnxValue.CreateFromTensor("LogMel", new DenseTensor<float>(mel.AsMemory(start * 2520, count * 2520), new[] { count, 2520 })),
                };
                using var result = session.Run(inputs, new[] { "Score" });
                return result.Single().AsTensor<float>().ToArray();
            }
            double OnnxPass()
            {
                var t = Stopwatch.StartNew();
                for (int s = 0; s < rows; s += batch) OnnxBatch(s, Math.Min(batch, rows - s));
                return t.Elapsed.TotalSeconds;
            }

            // Agreement on every row, against TorchSharp.
            model.Engine = MLNetFusion.Trainers.FusionServingEngine.TorchSharp;
            var expected = ReadScores(model.Transform(data));
            double worst = 0;
            for (int s = 0; s < rows; s += batch)
            {
                int c = Math.Min(batch, rows - s);
                var p = OnnxBatch(s, c);
                for (int i = 0; i < c * 10; i++) worst = Math.Max(worst, Math.Abs(p[i] - expected[s * 10 + i]));
            }

            // The default path: the same model with no engine set, which exports its network in memory at its first scoring.
            var byDefault = ml.Model.LoadFusionModel(Copy(ml, model, data.Schema), out _);
            var defaultNetwork = Network(byDefault);
            sw.Restart();
            var defaultScores = ReadScores(byDefault.Transform(data));
            double firstScoringSeconds = sw.Elapsed.TotalSeconds;
            double worstDefault = expected.Zip(defaultScores).Max(p => Math.Abs(p.First - p.Second));

            OnnxPass();
            using var served = ml.Model.WithOnnxRuntime(model, data.Schema);
            Consume(served.Transform(data), "Score");
            var torchT = new List<double>();
            var onnxT = new List<double>();
            var servedT = new List<double>();
            var defaultT = new List<double>();
            for (int rep = 0; rep < Repetitions; rep++)
            {
                sw.Restart();
                Consume(model.Transform(data), "Score");
                torchT.Add(sw.Elapsed.TotalSeconds);
                onnxT.Add(OnnxPass());
                sw.Restart();
                Consume(served.Transform(data), "Score");
                servedT.Add(sw.Elapsed.TotalSeconds);
                sw.Restart();
                Consume(byDefault.Transform(data), "Score");
                defaultT.Add(sw.Elapsed.TotalSeconds);
            }
            double torch = Median(torchT), onnx = Median(onnxT), withOnnx = Median(servedT), defaultPath = Median(defaultT);
            Emit(new
            {
                benchmark = "onnx_batch_inference", model = "merge(attention), image CNN + audio CNN", rows, batch, opset = export.Opset, onnx_file_mb = Math.Round(export.Bytes / 1048576.0, 2),
                export_seconds = Math.Round(exportSeconds, 2), threads, torchsharp_transform_rows_per_second = Math.Round(rows / torch), onnx_runtime_rows_per_second = Math.Round(rows / onnx),
                with_onnx_runtime_transform_rows_per_second = Math.Round(rows / withOnnx),
                ratio_torchsharp_to_onnx = Math.Round(onnx / torch, 3), target_ratio = 0.8, max_probability_difference = worst, repetitions = Repetitions,
                default_engine = defaultNetwork.EngineNote, default_transform_rows_per_second = Math.Round(rows / defaultPath), target_default_rows_per_second = 15000,
                ratio_default_to_onnx = Math.Round(onnx / defaultPath, 3), default_first_scoring_seconds = Math.Round(firstScoringSeconds, 2),
                default_max_probability_difference = worstDefault,
            });

            ProfileOnnxRuntime(path, threads, rows, batch, OnnxBatchValues);

            // One row at a time: PredictionEngine through TorchSharp, through ApplyOnnxModel, and a raw ONNX Runtime session.
            var onnxModel = ml.Transforms.ApplyOnnxModel(new[] { "Score" }, new[] { "Pixels", "LogMel" }, path).Fit(data);
            var torchEngine = ml.Model.CreatePredictionEngine<AvRow, ScoreRow>(model);
            var onnxEngine = ml.Model.CreatePredictionEngine<AvRow, ScoreRow>(onnxModel);
            var servedEngine = ml.Model.CreatePredictionEngine<AvRow, ScoreRow>(ml.Model.WithOnnxRuntime(model, data.Schema, new MLNetFusion.Onnx.OnnxRuntimeServingOptions { Threads = 1 }));
            // The default path on one thread, as a latency-bound server runs: a fresh copy opens its session at FusionServing.Threads = 1.
            MLNetFusion.Trainers.FusionServing.Threads = 1;
            var oneThread = ml.Model.LoadFusionModel(Copy(ml, model, data.Schema), out _);
            var defaultEngine = ml.Model.CreatePredictionEngine<AvRow, ScoreRow>(oneThread);
            var probe = AvShaped(2000, 5);
            defaultEngine.Predict(probe[0]);   // its session opens now, at one thread
            // And as a model serves out of the box: FusionServing.Threads unset, the process's torch threads.
            MLNetFusion.Trainers.FusionServing.Threads = null;
            var processThreads = ml.Model.LoadFusionModel(Copy(ml, model, data.Schema), out _);
            var processEngine = ml.Model.CreatePredictionEngine<AvRow, ScoreRow>(processThreads);
            processEngine.Predict(probe[0]);
            void Raw(AvRow r)
            {
                using var result = session.Run(new[]
                {
                    NamedOnnxValue.CreateFromTensor("Pixels", new DenseTensor<float>(r.Pixels, new[] { 1, 784 })),
                    NamedOnnxValue.CreateFromTensor("LogMel", new DenseTensor<float>(r.LogMel, new[] { 1, 2520 })),
                }, new[] { "Score" });
            }
            // Interleaved: each engine predicts a quarter of the rows in turn, four times over, so a slow spell of this
            // machine (or another engine's threads still spinning) falls on every engine alike.
            var engines = new (string name, Action<AvRow> predict)[]
            {
                ("torch", r => torchEngine.Predict(r)), ("apply", r => onnxEngine.Predict(r)), ("served", r => servedEngine.Predict(r)),
                ("default", r => defaultEngine.Predict(r)), ("raw", Raw), ("default-process-threads", r => processEngine.Predict(r)),
            };
            var times = engines.ToDictionary(e => e.name, _ => new List<double>());
            foreach (var (_, predict) in engines) foreach (var r in probe.Take(200)) predict(r);
            const int rounds = 4;
            for (int round = 0; round < rounds; round++)
                foreach (var (name, predict) in engines)
                    for (int i = round * probe.Count / rounds; i < (round + 1) * probe.Count / rounds; i++)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        predict(probe[i]);
                        times[name].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    }
            (double p50, double p99) Latency(string name)
            {
                var sorted = times[name].OrderBy(t => t).ToArray();
                return (Math.Round(sorted[sorted.Length / 2], 3), Math.Round(sorted[(int)(sorted.Length * 0.99)], 3));
            }
            var torchLatency = Latency("torch");
            var onnxLatency = Latency("apply");
            var servedLatency = Latency("served");
            var defaultLatency = Latency("default");
            var rawLatency = Latency("raw");
            var processLatency = Latency("default-process-threads");
            Emit(new
            {
                benchmark = "onnx_prediction_latency", predictions = probe.Count,
                torchsharp_prediction_engine_p50_ms = torchLatency.p50, torchsharp_prediction_engine_p99_ms = torchLatency.p99,
                apply_onnx_model_prediction_engine_p50_ms = onnxLatency.p50, apply_onnx_model_prediction_engine_p99_ms = onnxLatency.p99,
                onnx_runtime_session_p50_ms = rawLatency.p50, onnx_runtime_session_p99_ms = rawLatency.p99,
                with_onnx_runtime_prediction_engine_p50_ms = servedLatency.p50, with_onnx_runtime_prediction_engine_p99_ms = servedLatency.p99, target_p50_ms = 0.3, target_p99_ms = 1.0,
                default_prediction_engine_p50_ms = defaultLatency.p50, default_prediction_engine_p99_ms = defaultLatency.p99, target_default_p50_ms = 0.15,
                default_engine_one_thread = Network(oneThread).EngineNote,
                default_process_threads_prediction_engine_p50_ms = processLatency.p50, default_process_threads_prediction_engine_p99_ms = processLatency.p99,
                default_engine_process_threads = Network(processThreads).EngineNote,
            });
            defaultEngine.Dispose();
            (oneThread as IDisposable)?.Dispose();
            processEngine.Dispose();
            (processThreads as IDisposable)?.Dispose();
            (byDefault as IDisposable)?.Dispose();
            torchEngine.Dispose();
            onnxEngine.Dispose();
            servedEngine.Dispose();
            (onnxModel as IDisposable)?.Dispose();
        }
        finally
        {
            if (File.Exists(path)) File.Delete(path);
        }
    }

    /// <summary>
    /// Where ONNX Runtime's time goes on the same graph and batches: its own profiler (every kernel's duration) over three
    /// passes, summed per operator type; ONNX Runtime names the nodes it fused or moved to its blocked layout itself.
    /// </summary>
    private static void ProfileOnnxRuntime(string path, int threads, int rows, int batch, Func<int, int, (string name, OrtValue value)[]> values)
    {
        const int passes = 3;
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), $"mlnetfusion-bench-{Environment.ProcessId}-profile");
        options.EnableProfiling = true;
        string? file = null;
        try
        {
            using (var session = new InferenceSession(path, options))
            {
                for (int p = 0; p < passes; p++)
                    for (int s = 0; s < rows; s += batch)
                    {
                        var inputs = values(s, Math.Min(batch, rows - s));
                        try { using var _ = session.Run(new RunOptions(), inputs.Select(i => i.name).ToArray(), inputs.Select(i => i.value).ToArray(), new[] { "Score" }); }
                        finally { foreach (var i in inputs) i.value.Dispose(); }
                    }
                file = session.EndProfiling();
            }
            if (!Path.IsPathRooted(file)) file = Path.GetFullPath(file);
            var byOperator = new Dictionary<string, double>();
            using (var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file)))
                foreach (var e in json.RootElement.EnumerateArray())
                    if (e.TryGetProperty("cat", out var cat) && cat.GetString() == "Node" && e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal))
                    {
                        var op = e.GetProperty("args").GetProperty("op_name").GetString()!;
                        byOperator[op] = byOperator.GetValueOrDefault(op) + e.GetProperty("dur").GetDouble();
                    }
            double total = byOperator.Values.Sum();
            Emit(new
            {
                benchmark = "onnx_runtime_profile", rows, batch, threads, passes, kernel_us_per_row = Math.Round(total / (rows * (double)passes), 1),
                by_operator = byOperator.OrderByDescending(kv => kv.Value).Take(10)
                    .Select(kv => new { op = kv.Key, us_per_row = Math.Round(kv.Value / (rows * (double)passes), 1), share = Math.Round(kv.Value / total, 3) }).ToArray(),
            });
        }
        finally
        {
            if (file != null && File.Exists(file)) File.Delete(file);
        }
    }

    private static MLNetFusion.Trainers.FusionPredictionTransformer Network(ITransformer model)
        => model as MLNetFusion.Trainers.FusionPredictionTransformer ?? ((IEnumerable<ITransformer>)model).OfType<MLNetFusion.Trainers.FusionPredictionTransformer>().Single();

    /// <summary>The model saved and loaded again in memory: a copy with no engine set and no session yet.</summary>
    private static MemoryStream Copy(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        var stream = new MemoryStream();
        ml.Model.SaveFusionModel(model, schema, stream);
        stream.Position = 0;
        return stream;
    }

    private static float[] ReadScores(IDataView scored)
    {
        var result = new List<float>();
        using var cursor = scored.GetRowCursor(new[] { scored.Schema["Score"] });
        var getter = cursor.GetGetter<Microsoft.ML.Data.VBuffer<float>>(scored.Schema["Score"]);
        Microsoft.ML.Data.VBuffer<float> buffer = default;
        while (cursor.MoveNext()) { getter(ref buffer); result.AddRange(buffer.DenseValues()); }
        return result.ToArray();
    }
}
