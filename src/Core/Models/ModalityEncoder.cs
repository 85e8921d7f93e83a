using MLNetFusion.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>
/// The contract every modality encoder states: its modality name, the column it reads, the shape it expects and the
/// width it produces. Fusion modules only rely on this contract (adapters project encoders to a common width).
/// </summary>
/// <param name="Name">Modality name (e.g. <c>image</c>).</param>
/// <param name="InputColumn">The <c>Vector&lt;Single&gt;</c> column the encoder reads.</param>
/// <param name="InputShape">The per-row shape, e.g. <c>[features]</c> or <c>[channels, height, width]</c>.</param>
/// <param name="OutputWidth">Embedding width.</param>
public sealed record EncoderContract(string Name, string InputColumn, int[] InputShape, int OutputWidth)
{
    /// <summary>Number of values per row.</summary>
    public int InputSize => InputShape.Aggregate(1, (a, b) => a * b);

    /// <inheritdoc />
    public override string ToString() => $"{Name}: '{InputColumn}' [{string.Join("x", InputShape)}] -> {OutputWidth}";
}

/// <summary>
/// A modality encoder: maps a flat <c>[B, InputSize]</c> batch to an embedding <c>[B, OutputWidth]</c>, and exposes
/// its intermediate stages (for network fusion) and a token sequence (for cross-modal fusion).
/// </summary>
public abstract class ModalityEncoder : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the encoder.</summary>
    protected ModalityEncoder(string name, EncoderContract contract) : base(name) => Contract = contract;

    /// <summary>The encoder's contract.</summary>
    public EncoderContract Contract { get; }

    /// <summary>
    /// <paramref name="x"/> through <paramref name="dropout"/> while training, and <paramref name="x"/> itself otherwise:
    /// outside training dropout is the identity, and skipping its call saves an operation per prediction.
    /// </summary>
    protected Tensor Dropped(TorchSharp.Modules.Dropout dropout, Tensor x) => training ? dropout.call(x) : x;

    /// <summary>
    /// This encoder's learning rate as a multiple of the trainer's (<see cref="ModalityOptions.LearningRateMultiplier"/>):
    /// the training loop gives its parameters an optimiser group of their own. 0 freezes the encoder.
    /// </summary>
    public double LearningRateMultiplier { get; set; } = 1;

    /// <summary>Widths of <see cref="ForwardStages"/>' outputs; the last equals <see cref="EncoderContract.OutputWidth"/>.</summary>
    public abstract IReadOnlyList<int> StageWidths { get; }

    /// <summary>Width of each token from <see cref="Tokens"/>.</summary>
    public abstract int TokenWidth { get; }

    /// <summary>Number of tokens <see cref="Tokens"/> returns per row.</summary>
    public abstract int TokenCount { get; }

    /// <summary>Pooled features after every stage; the last is the embedding.</summary>
    public abstract Tensor[] ForwardStages(Tensor x);

    /// <summary>A token sequence <c>[B, T, TokenWidth]</c> for attention-based fusion.</summary>
    public abstract Tensor Tokens(Tensor x);

    /// <summary>The embedding and the tokens from one pass over the input.</summary>
    public virtual (Tensor embedding, Tensor tokens) EncodeWithTokens(Tensor x) => (forward(x), Tokens(x));

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => ForwardStages(x)[^1];

    /// <summary>
    /// Drops what the encoder derived from its weights for serving (see <see cref="ConvEncoder"/>'s folded blocks). Called
    /// whenever the weights may change: on <c>train()</c>/<c>eval()</c>, and after weights are loaded or restored
    /// (<see cref="ResetInferenceForms"/>). The default has nothing to drop.
    /// </summary>
    internal virtual void ResetInferenceForm() { }

    /// <summary>Calls <see cref="ResetInferenceForm"/> on every encoder in <paramref name="module"/>: its weights were just written in place.</summary>
    internal static void ResetInferenceForms(nn.Module module)
    {
        // TorchSharp's modules() lists the descendants only.
        foreach (var m in module.modules().Prepend(module))
            if (m is ModalityEncoder e) e.ResetInferenceForm();
    }

    /// <summary>
    /// Writes this encoder's inference computation (no dropout, no augmentation) to an ONNX graph: from
    /// <paramref name="input"/> (<c>[B, InputSize]</c>, float) to what <see cref="ForwardStages"/> and <see cref="Tokens"/> return.
    /// </summary>
    /// <param name="graph">The graph being written.</param>
    /// <param name="input">The input value.</param>
    /// <param name="tokens">Whether the token sequence is needed (cross-modal fusion).</param>
    /// <exception cref="NotSupportedException">The encoder has no ONNX description (an encoder of your own that does not override this).</exception>
    public virtual OnnxEncoding ExportOnnx(OnnxGraph graph, string input, bool tokens) => throw new NotSupportedException(
        $"The {GetType().Name} encoder of modality '{Contract.Name}' cannot be exported to ONNX." + Environment.NewLine +
        "Hint: override ModalityEncoder.ExportOnnx to describe its inference computation with OnnxGraph's operators.");
}

/// <summary>What an encoder writes to an ONNX graph: the value of every stage (the last is the embedding) and, when asked, its tokens <c>[B, T, TokenWidth]</c>.</summary>
/// <param name="Stages">The stages' values, as <see cref="ModalityEncoder.ForwardStages"/> returns them.</param>
/// <param name="Tokens">The tokens' value, or <c>null</c> when not asked for.</param>
public sealed record OnnxEncoding(IReadOnlyList<string> Stages, string? Tokens)
{
    /// <summary>The embedding (the last stage).</summary>
    public string Embedding => Stages[^1];
}

/// <summary>Standardises an encoder's input with statistics fitted on the training data (stored as buffers).</summary>
internal sealed class InputStandardizer : nn.Module<Tensor, Tensor>
{
    private readonly Tensor mean;
    private readonly Tensor scale;

    /// <summary>Creates a standardizer with the given mean and standard deviation (per feature or scalar).</summary>
    public InputStandardizer(float[] mean, float[] std) : base(nameof(InputStandardizer))
    {
        this.mean = tensor(mean);
        scale = tensor(std.Select(s => s > 1e-6f ? 1f / s : 1f).ToArray());
        register_buffer(nameof(mean), this.mean);
        register_buffer(nameof(scale), this.scale);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => (x - mean) * scale;

    /// <summary>Writes <c>(x - mean) · scale</c> to an ONNX graph.</summary>
    public string ExportOnnx(OnnxGraph graph, string x) => graph.Mul(graph.Sub(x, graph.Constant("mean", mean)), graph.Constant("scale", scale));
}
