using MLNetFusion.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>Small building blocks shared by encoders, fusion layers and heads.</summary>
internal static class Layers
{
    /// <summary>
    /// One <c>(Linear → ReLU → Dropout)</c> block per width, kept apart so that an encoder can return every stage (network
    /// fusion reads them); see <see cref="RunStages"/>.
    /// </summary>
    public static ModuleList<nn.Module<Tensor, Tensor>> ReluStages(int inputWidth, IReadOnlyList<int> widths, double dropout)
    {
        var blocks = new List<nn.Module<Tensor, Tensor>>();
        int prev = inputWidth;
        foreach (int w in widths)
        {
            blocks.Add(nn.Sequential(nn.Linear(prev, w), nn.ReLU(), nn.Dropout(dropout)));
            prev = w;
        }
        return nn.ModuleList(blocks.ToArray());
    }

    /// <summary>Runs <paramref name="stages"/> in turn on <paramref name="h"/> and returns every stage's output (just <paramref name="h"/> when there are none).</summary>
    public static Tensor[] RunStages(ModuleList<nn.Module<Tensor, Tensor>> stages, Tensor h)
    {
        if (stages.Count == 0) return new[] { h };
        var outputs = new Tensor[stages.Count];
        for (int i = 0; i < stages.Count; i++) outputs[i] = h = stages[i].call(h);
        return outputs;
    }

    /// <summary>The ONNX counterpart of <see cref="RunStages"/>: every stage's output value (just <paramref name="h"/> when there are none).</summary>
    public static string[] ExportStages(OnnxGraph graph, ModuleList<nn.Module<Tensor, Tensor>> stages, string h)
    {
        if (stages.Count == 0) return new[] { h };
        var outputs = new string[stages.Count];
        for (int i = 0; i < stages.Count; i++) outputs[i] = h = graph.Layer(stages[i], h);
        return outputs;
    }

    /// <summary><c>(Linear → ReLU → Dropout)</c> for each width; returns the stack and its output width.</summary>
    public static (Sequential stack, int outputWidth) ReluStack(int inputWidth, IReadOnlyList<int> widths, double dropout)
    {
        var layers = new List<nn.Module<Tensor, Tensor>>();
        int prev = inputWidth;
        foreach (int w in widths)
        {
            layers.Add(nn.Linear(prev, w));
            layers.Add(nn.ReLU());
            layers.Add(nn.Dropout(dropout));
            prev = w;
        }
        return (nn.Sequential(layers.ToArray()), prev);
    }
}

/// <summary>
/// 2×2 max pooling with stride 2 (an odd last row or column dropped, as <c>MaxPool2d(2)</c> does), computed as the
/// maximum of strided views: the same values as libtorch's <c>max_pool2d</c> (the maximum of four values does not depend
/// on the order; a NaN propagates in both), faster on CPUs for the encoders' large first feature maps (measured in
/// docs/benchmarks.md, "ONNX"). It has no parameters, so model files are unchanged.
/// </summary>
internal sealed class MaxPool2x2 : nn.Module<Tensor, Tensor>
{
    public MaxPool2x2() : base(nameof(MaxPool2x2)) { }

    public override Tensor forward(Tensor x) => Pool(x);

    /// <summary>The pooling itself, for callers that run it outside a module (an encoder's serving form).</summary>
    public static Tensor Pool(Tensor x)
    {
        long h = x.shape[^2] / 2 * 2, w = x.shape[^1] / 2 * 2;
        using var rows = maximum(x.slice(-2, 0, h, 2), x.slice(-2, 1, h, 2));
        return maximum(rows.slice(-1, 0, w, 2), rows.slice(-1, 1, w, 2));
    }
}
