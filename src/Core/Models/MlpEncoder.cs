using MLNetFusion.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>Tabular encoder: standardise, then <c>Linear → ReLU → Dropout</c> per hidden layer.</summary>
internal sealed class MlpEncoder : ModalityEncoder
{
    private readonly InputStandardizer norm;
    private readonly ModalityAugmentation? _augmentation;
    private readonly Dropout input_dropout;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layers;
    private readonly int[] _widths;

    /// <summary>Creates the encoder.</summary>
    /// <param name="name">Modality name.</param>
    /// <param name="inputColumn">Input column.</param>
    /// <param name="inputSize">Features per row.</param>
    /// <param name="hidden">Hidden widths; the last is the output width.</param>
    /// <param name="dropout">Dropout after each hidden layer.</param>
    /// <param name="mean">Per-feature input mean (fitted).</param>
    /// <param name="std">Per-feature input standard deviation (fitted).</param>
    /// <param name="inputDropout">Dropout on the standardised input features (regularises wide, noisy inputs).</param>
    /// <param name="augmentation">Training-time augmentation of the standardised input, or <c>null</c>.</param>
    public MlpEncoder(string name, string inputColumn, int inputSize, int[] hidden, double dropout, float[] mean, float[] std, double inputDropout = 0,
        ModalityAugmentation? augmentation = null)
        : base(nameof(MlpEncoder), new EncoderContract(name, inputColumn, new[] { inputSize }, hidden[^1]))
    {
        _augmentation = augmentation;
        if (hidden.Length == 0) throw new ArgumentException("At least one hidden layer is required.", nameof(hidden));
        _widths = hidden.ToArray();
        norm = new InputStandardizer(mean, std);
        input_dropout = nn.Dropout(inputDropout);
        layers = Layers.ReluStages(inputSize, hidden, dropout);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override IReadOnlyList<int> StageWidths => _widths;

    /// <inheritdoc />
    public override int TokenWidth => _widths[^1];

    /// <inheritdoc />
    public override int TokenCount => 1;

    /// <inheritdoc />
    public override Tensor[] ForwardStages(Tensor x)
    {
        var h = norm.call(x);
        if (training && _augmentation != null) h = _augmentation.ApplyToFeatures(h);
        h = Dropped(input_dropout, h);
        return Layers.RunStages(layers, h);
    }

    /// <inheritdoc />
    public override Tensor Tokens(Tensor x) => forward(x).unsqueeze(1);

    /// <inheritdoc />
    public override (Tensor embedding, Tensor tokens) EncodeWithTokens(Tensor x)
    {
        var e = forward(x);
        return (e, e.unsqueeze(1));
    }

    /// <inheritdoc />
    public override OnnxEncoding ExportOnnx(OnnxGraph graph, string input, bool tokens)
    {
        var h = norm.ExportOnnx(graph, input);
        var stages = Layers.ExportStages(graph, layers, h);
        return new OnnxEncoding(stages, tokens ? graph.Unsqueeze(stages[^1], 1) : null);
    }
}
