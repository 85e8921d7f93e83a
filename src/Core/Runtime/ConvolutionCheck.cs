using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Runtime;

/// <summary>What <see cref="TorchRuntime.CheckConvolutions"/> found.</summary>
/// <param name="Steps">Training steps run (forward, backward and an AdamW step each).</param>
/// <param name="NonFiniteSteps">Steps whose loss or gradients were NaN or infinite.</param>
/// <param name="WrongSteps">Steps whose float32 forward pass or gradients differed from the float64 reference by more than the tolerance (non-finite ones included).</param>
/// <param name="LargestError">The largest relative difference from the reference over all finite steps.</param>
/// <param name="OneDnn">The oneDNN remedy in effect while it ran.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record ConvolutionCheckResult(int Steps, int NonFiniteSteps, int WrongSteps, double LargestError, OneDnnState OneDnn, TimeSpan Elapsed)
{
    /// <summary>The relative tolerance: float32 convolutions of this size agree with float64 to about 1e-6.</summary>
    public const double Tolerance = 1e-3;

    /// <summary>Whether every step was finite and agreed with the reference.</summary>
    public bool Passed => NonFiniteSteps == 0 && WrongSteps == 0;
}

/// <summary>
/// The smallest network and data that diverged with libtorch's oneDNN kernels at AVX-512 on AMD EPYC CPUs (issue 41):
/// the convolution shapes of the failing tests (a 1→4→8-channel CNN on 8×8 inputs, batch 64, channel counts below the
/// 16 lanes of an AVX-512 block), trained with AdamW at 1e-3. Every step's float32 forward pass (oneDNN's convolutions)
/// and weight gradients are compared with the same network in float64, which libtorch computes with its own kernels.
/// </summary>
internal static class ConvolutionCheck
{
    private const int Batch = 64, Side = 8, Classes = 4;

    public static ConvolutionCheckResult Run(int runs, int stepsPerRun, int seed)
    {
        Check.Positive(runs, 10_000);
        Check.Positive(stepsPerRun, 10_000);
        var state = TorchRuntime.OneDnn;
        var clock = Stopwatch.StartNew();
        int steps = 0, nonFinite = 0, wrong = 0;
        double largest = 0;
        using var _ = new Training.TorchSeedScope(seed);
        for (int run = 0; run < runs; run++)
        {
            using var runScope = NewDisposeScope();
            static TorchSharp.Modules.Parameter P(Tensor t) => new(t);
            var w = new[]
            {
                P(randn(4, 1, 3, 3) * 0.5), P(randn(4) * 0.1), P(randn(8, 4, 3, 3) * 0.25), P(randn(8) * 0.1),
                P(randn(Classes, 8 * 2 * 2) * 0.2), P(zeros(Classes)),
            };
            using var optimizer = optim.AdamW(w, 1e-3);
            for (int step = 0; step < stepsPerRun; step++)
            {
                using var scope = NewDisposeScope();
                var x = randn(Batch, 1, Side, Side);
                // Each class lights one quadrant, so the loss falls when training works.
                var y = randint(0, Classes, new long[] { Batch });
                var quadrant = nn.functional.one_hot(y, Classes).to_type(ScalarType.Float32).view(Batch, 1, 2, 2);
                x = x + nn.functional.interpolate(quadrant, new long[] { Side, Side }) * 2;
                optimizer.zero_grad();
                var logits = Forward(x, w);
                var loss = nn.functional.cross_entropy(logits, y);
                loss.backward();

                var reference = w.Select(p => p.detach().to_type(ScalarType.Float64).requires_grad_()).ToArray();
                var refLogits = Forward(x.to_type(ScalarType.Float64), reference);
                nn.functional.cross_entropy(refLogits, y).backward();

                steps++;
                bool finite = double.IsFinite(loss.item<float>()) && w.All(p => p.grad is { } g && g.isfinite().all().item<bool>());
                double error = Math.Max(RelativeError(logits, refLogits), Enumerable.Range(0, w.Length).Max(i => RelativeError(w[i].grad!, reference[i].grad!)));
                if (!finite) nonFinite++;
                if (!finite || !(error <= ConvolutionCheckResult.Tolerance)) wrong++;
                else largest = Math.Max(largest, error);
                if (finite) optimizer.step();
            }
        }
        return new ConvolutionCheckResult(steps, nonFinite, wrong, largest, state, clock.Elapsed);
    }

    private static Tensor Forward(Tensor x, Tensor[] w)
    {
        var h = nn.functional.relu(nn.functional.conv2d(x, w[0], w[1], padding: new long[] { 1, 1 }));
        h = nn.functional.max_pool2d(h, 2);
        h = nn.functional.relu(nn.functional.conv2d(h, w[2], w[3], padding: new long[] { 1, 1 }));
        h = nn.functional.max_pool2d(h, 2);
        return nn.functional.linear(h.flatten(1), w[4], w[5]);
    }

    /// <summary>The largest difference relative to the reference's largest magnitude (NaN when either is not finite).</summary>
    private static double RelativeError(Tensor actual, Tensor reference)
    {
        double scale = reference.abs().max().item<double>();
        double diff = (actual.to_type(ScalarType.Float64) - reference).abs().max().item<double>();
        return diff / Math.Max(scale, 1e-6);
    }
}
