using MLNetFusion.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Trainers;

/// <summary><c>(Linear → ReLU → Dropout)*</c> then a linear layer to the classes.</summary>
internal sealed class ClassifierHead : nn.Module<Tensor, Tensor>
{
    private readonly Sequential hidden;
    private readonly Linear output;

    /// <summary>Creates the head.</summary>
    public ClassifierHead(int inputWidth, int[] hiddenWidths, double dropout, int classes) : base(nameof(ClassifierHead))
    {
        (hidden, int width) = MLNetFusion.Models.Layers.ReluStack(inputWidth, hiddenWidths, dropout);
        output = nn.Linear(width, classes);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => output.call(hidden.call(x));

    /// <summary>Writes the head's inference computation to an ONNX graph.</summary>
    public static string ExportOnnx(ClassifierHead head, OnnxGraph graph, string x)
    {
        using var _ = graph.Scope("head");
        return graph.Linear(head.output, graph.Sequential(head.hidden, x));
    }
}
