using MLNetFusion.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>
/// Text encoder over hashed token ids (<c>HashTextTokens</c>; 0 pads): an embedding per bucket, averaged over the row's
/// tokens (an embedding bag, as fastText), then <c>Linear → ReLU → Dropout</c> per hidden layer. Its tokens for
/// cross-modal fusion are the token embeddings themselves (padding gives zeros).
/// </summary>
internal sealed class TextEncoder : ModalityEncoder
{
    private readonly Embedding embedding;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layers;
    private readonly ModalityAugmentation? _augmentation;
    private readonly int _buckets, _tokens, _width;
    private readonly int[] _widths;

    /// <summary>Creates the encoder.</summary>
    /// <param name="name">Modality name.</param>
    /// <param name="inputColumn">Input column (token ids).</param>
    /// <param name="tokens">Token slots per row.</param>
    /// <param name="buckets">Hash buckets (embedding rows besides padding).</param>
    /// <param name="width">Embedding width.</param>
    /// <param name="hidden">Hidden widths after pooling; the last is the output width.</param>
    /// <param name="dropout">Dropout after each hidden layer.</param>
    /// <param name="augmentation">Training-time token dropout (<see cref="ModalityAugmentation.FeatureDropout"/>), or <c>null</c>.</param>
    public TextEncoder(string name, string inputColumn, int tokens, int buckets, int width, int[] hidden, double dropout, ModalityAugmentation? augmentation = null)
        : base(nameof(TextEncoder), new EncoderContract(name, inputColumn, new[] { tokens }, hidden.Length > 0 ? hidden[^1] : width))
    {
        if (buckets <= 0) throw new ArgumentOutOfRangeException(nameof(buckets), buckets, "At least one bucket is required.");
        _buckets = buckets; _tokens = tokens; _width = width; _augmentation = augmentation;
        _widths = hidden.Length > 0 ? hidden.ToArray() : new[] { width };
        embedding = nn.Embedding(buckets + 1, width, padding_idx: 0);
        layers = Layers.ReluStages(width, hidden, dropout);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override IReadOnlyList<int> StageWidths => _widths;

    /// <inheritdoc />
    public override int TokenWidth => _width;

    /// <inheritdoc />
    public override int TokenCount => _tokens;

    /// <summary>Token ids as int64 in [0, buckets] (0 pads; larger ids fold in), with training-time token dropout.</summary>
    private Tensor Ids(Tensor x)
    {
        var ids = x.nan_to_num(0).clamp_min(0).round().to_type(ScalarType.Int64);
        ids = where(ids > 0, (ids - 1).remainder(_buckets) + 1, ids);
        if (training && _augmentation is { FeatureDropout: > 0 } a)
            ids = ids.masked_fill(rand(ids.shape, device: ids.device) < a.FeatureDropout, 0);
        return ids;
    }

    /// <inheritdoc />
    public override Tensor[] ForwardStages(Tensor x) => Stages(Ids(x)).stages;

    /// <summary>The stages and the token embeddings from one draw of ids (token dropout included).</summary>
    private (Tensor[] stages, Tensor tokens) Stages(Tensor ids)
    {
        var tokens = embedding.call(ids);                                              // [B, T, width]
        var mask = (ids > 0).unsqueeze(-1).to_type(ScalarType.Float32);               // [B, T, 1]
        var pooled = (tokens * mask).sum(1) / mask.sum(1).clamp_min(1);               // [B, width]
        return (Layers.RunStages(layers, pooled), tokens);
    }

    /// <inheritdoc />
    public override Tensor Tokens(Tensor x) => embedding.call(Ids(x));

    /// <inheritdoc />
    public override (Tensor embedding, Tensor tokens) EncodeWithTokens(Tensor x)
    {
        var (stages, tokens) = Stages(Ids(x));   // one draw: the pooled embedding and the tokens see the same dropped tokens
        return (stages[^1], tokens);
    }

    /// <inheritdoc />
    public override OnnxEncoding ExportOnnx(OnnxGraph graph, string input, bool tokens)
    {
        // Ids as Ids() makes them: NaN to 0, negatives to 0, rounded half to even, ids above the buckets folded in.
        var zero = graph.Scalar(0f);
        var x = graph.Where(graph.Node("IsNaN", new[] { input }), zero, input);
        var ids = graph.Cast(graph.Node("Round", new[] { graph.Max(x, zero) }), OnnxElementType.Int64);
        var zeroId = graph.Constant("zero", new long[] { 0 }, Array.Empty<long>());
        var oneId = graph.Constant("one", new long[] { 1 }, Array.Empty<long>());
        var folded = graph.Add(graph.Node("Mod", new[] { graph.Sub(ids, oneId), graph.Constant("buckets", new long[] { _buckets }, Array.Empty<long>()) }), oneId);
        var used = graph.Node("Greater", new[] { ids, zeroId });
        ids = graph.Where(used, folded, zeroId);
        var table = graph.Constant("embedding", embedding.weight!);
        var tokenValues = graph.Node("Gather", new[] { table, ids }, OnnxAttribute.Of("axis", 0L));              // [B, T, width]
        var mask = graph.Unsqueeze(graph.Cast(used, OnnxElementType.Float), 2);                                   // [B, T, 1]
        var pooled = graph.Div(graph.ReduceSum(graph.Mul(tokenValues, mask), false, 1), graph.Max(graph.ReduceSum(mask, false, 1), graph.Scalar(1f)));
        return new OnnxEncoding(Layers.ExportStages(graph, layers, pooled), tokens ? tokenValues : null);
    }
}
