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
