using System.Diagnostics;
using MLNetFusion.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using TorchSharp;
using static MLNetFusion.Benchmarks.Measure;
using static MLNetFusion.Benchmarks.BenchRows;
using static TorchSharp.torch;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only torch-profile</c>: where the TorchSharp engine spends its time on the bench's merge model (the one
/// <c>--only onnx</c> measures), for batches of 256 at the process's torch threads and for single rows at one thread.
/// <list type="bullet">
/// <item>The per-operator profile of the network's modules (as training and validation run them, under <c>no_grad</c>):
/// each leaf module's inclusive time, timed by forward hooks around its call and summed per module and per operator
/// type, and the time outside any leaf module (the tensor operations of the encoders' and the fusion's own <c>forward</c>).</item>
/// <item>The same network as served (under <c>inference_mode</c>, where the CNN encoders run their folded serving form)
/// against the modules, alternating in one process, with the largest probability difference; and the whole
/// <c>Predict</c> call (building the batch from arrays, the softmax, copying out) for scale.</item>
/// </list>
/// </summary>
internal static class TorchProfileBenchmark
{
    private const int Rows = 4000, BatchRows = 256, SingleRows = 1000, Passes = 5;

    public static void Run()
    {
        var (_, _, model) = OnnxBenchmark.MergeModel();
        using var _ = model;
        var samples = AvShaped(Rows, 1);
        var pixels = samples.SelectMany(r => r.Pixels).ToArray();
        var mel = samples.SelectMany(r => r.LogMel).ToArray();
        int threads = get_num_threads();

        FusionBatch Batch(int start, int count) => new(
            new[] { tensor(pixels[(start * 784)..((start + count) * 784)], new long[] { count, 784 }), tensor(mel[(start * 2520)..((start + count) * 2520)], new long[] { count, 2520 }) },
            new[] { ones(count), ones(count) }, null, count) { PresentInEveryRow = new[] { true, true } };
        var batches = Enumerable.Range(0, (Rows + BatchRows - 1) / BatchRows).Select(b => Batch(b * BatchRows, Math.Min(BatchRows, Rows - b * BatchRows))).ToArray();
        var singles = Enumerable.Range(0, SingleRows).Select(i => Batch(i, 1)).ToArray();
        try
        {
            Shape(model, "batch_256", threads, batches, Rows, (s, n) => model.Predict(new[] { pixels[(s * 784)..((s + n) * 784)], mel[(s * 2520)..((s + n) * 2520)] }, new[] { Ones(n), Ones(n) }, n, false), BatchRows);
            set_num_threads(1);
            Shape(model, "single_row", 1, singles, SingleRows, (s, n) => model.Predict(new[] { pixels[(s * 784)..((s + n) * 784)], mel[(s * 2520)..((s + n) * 2520)] }, new[] { Ones(n), Ones(n) }, n, false), 1);
        }
        finally
        {
            set_num_threads(threads);
            foreach (var b in batches.Concat(singles)) b.Dispose();
        }
    }

    private static float[] Ones(int n) => Enumerable.Repeat(1f, n).ToArray();

    private static void Shape(FusionPredictionTransformer model, string shape, int threads, FusionBatch[] batches, int rows, Action<int, int> predict, int step)
    {
        var network = model.Network;
        double Pass(bool served)
        {
            var sw = Stopwatch.StartNew();
            foreach (var b in batches)
            {
                using var scope = NewDisposeScope();
                using var mode = served ? inference_mode() : no_grad();
                _ = network.Forward(b);
            }
            return sw.Elapsed.TotalSeconds;
        }
        double PredictPass()
        {
            var sw = Stopwatch.StartNew();
            for (int s = 0; s < rows; s += step) predict(s, Math.Min(step, rows - s));
            return sw.Elapsed.TotalSeconds;
        }

        // The largest probability difference between the serving form and the modules, on every row.
        double worst = 0;
        foreach (var b in batches)
        {
            using var scope = NewDisposeScope();
            Tensor p1, p2;
            using (no_grad()) p1 = nn.functional.softmax(network.Forward(b).Logits, 1);
            using (inference_mode()) p2 = nn.functional.softmax(network.Forward(b).Logits, 1);
            worst = Math.Max(worst, (p1 - p2).abs().max().ToDouble());
        }

        Pass(false); Pass(true); PredictPass();   // warm up: first-call allocations, oneDNN primitives, the folded weights
        var modules = new List<double>();
        var served = new List<double>();
        var predicts = new List<double>();
        for (int p = 0; p < Passes; p++) { modules.Add(Pass(false)); served.Add(Pass(true)); predicts.Add(PredictPass()); }

        // The per-operator profile of the modules, hooks around every leaf module's call.
        var inclusive = new Dictionary<string, double>();
        var started = new Stack<long>();
        var removers = new List<Action>();
        foreach (var (name, module) in network.named_modules())
        {
            if (module is not nn.Module<Tensor, Tensor> leaf || module.children().Any()) continue;
            string key = $"{name} ({module.GetType().Name})";
            var pre = leaf.register_forward_pre_hook((m, x) => { started.Push(Stopwatch.GetTimestamp()); return x; });
            var post = leaf.register_forward_hook((m, x, y) =>
            {
                inclusive[key] = inclusive.GetValueOrDefault(key) + Stopwatch.GetElapsedTime(started.Pop()).TotalMilliseconds;
                return y;
            });
            removers.Add(pre.remove);
            removers.Add(post.remove);
        }
        double hookedMs = 0;
        try { for (int p = 0; p < Passes; p++) hookedMs += Pass(false) * 1000; }
        finally { foreach (var remove in removers) remove(); }

        double leavesMs = inclusive.Values.Sum();
        double PerRowUs(double ms) => Math.Round(ms * 1000 / (rows * (double)Passes), 1);
        double UsPerRow(List<double> seconds) => Math.Round(Median(seconds) * 1e6 / rows, 1);
        var byOperator = inclusive.GroupBy(kv => kv.Key[(kv.Key.LastIndexOf('(') + 1)..^1])
            .Select(g => new { op = g.Key, us_per_row = PerRowUs(g.Sum(kv => kv.Value)), share = Math.Round(g.Sum(kv => kv.Value) / hookedMs, 3) })
            .Append(new { op = "(outside leaf modules)", us_per_row = PerRowUs(hookedMs - leavesMs), share = Math.Round((hookedMs - leavesMs) / hookedMs, 3) })
            .OrderByDescending(x => x.us_per_row).ToArray();
        var byModule = inclusive.OrderByDescending(kv => kv.Value).Take(12)
            .Select(kv => new { module = kv.Key, us_per_row = PerRowUs(kv.Value), share = Math.Round(kv.Value / hookedMs, 3) }).ToArray();
        Emit(new
        {
            benchmark = "torchsharp_profile", model = "merge(attention), image CNN + audio CNN", shape, threads, rows, passes = Passes,
            modules_us_per_row = UsPerRow(modules), served_us_per_row = UsPerRow(served), ratio_served_to_modules = Math.Round(Median(modules) / Median(served), 2),
            served_rows_per_second = Math.Round(rows / Median(served)), predict_us_per_row = UsPerRow(predicts), predict_rows_per_second = Math.Round(rows / Median(predicts)),
            max_probability_difference = worst, modules_with_hooks_us_per_row = PerRowUs(hookedMs), by_operator = byOperator, by_module = byModule,
        });
    }
}
