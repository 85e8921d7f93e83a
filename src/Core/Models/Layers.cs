using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>Small building blocks shared by encoders, fusion layers and heads.</summary>
internal static class Layers
{
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
