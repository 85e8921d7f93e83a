using MLNetFusion.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>
/// 2-D CNN encoder for images (<c>C×H×W</c>) and spectrograms (<c>1×bands×frames</c>). The default follows the reference
/// design: per block <c>Conv3x3 → ReLU → MaxPool2</c> (two blocks), then a linear projection with ReLU.
/// </summary>
/// <remarks>
/// Served in inference mode (<see cref="FusionNetwork"/> under <c>torch.inference_mode</c>, as a fitted model scores with
/// TorchSharp), each block runs in its serving form: one convolution with the batch norm folded into its weights and
/// bias, max-pooled before the ReLU (ReLU is monotone, so the two commute and the ReLU touches a quarter of the values),
/// on channels-last maps. It computes the same function up to float rounding, with two passes over each feature map
/// where the modules make four. The folded weights are built at the first such call and dropped whenever the weights
/// may change (<see cref="ModalityEncoder.ResetInferenceForm"/>). Training and validation run the modules themselves.
/// </remarks>
internal sealed class ConvEncoder : ModalityEncoder
{
    private readonly InputStandardizer norm;
    private readonly ModalityAugmentation? _augmentation;
    private readonly double _inputScale;
    private readonly bool _perClip;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;
    private readonly Linear projection;
    private readonly Dropout dropout;
    private readonly int[] _stageWidths;
    private readonly long[] _shape;
    private readonly long[] _tokenGrid;
    private readonly object _servingGate = new();
    private ServingBlock[]? _serving;

    /// <summary>Tokens come from the last feature map average-pooled to at most this many positions per side.</summary>
    public const int MaxTokenGrid = 4;

    /// <summary>Creates the encoder.</summary>
    /// <param name="name">Modality name.</param>
    /// <param name="inputColumn">Input column.</param>
    /// <param name="shape">Per-row shape <c>[C, H, W]</c>.</param>
    /// <param name="channels">Output channels of each conv block.</param>
    /// <param name="outputWidth">Width of the linear projection.</param>
    /// <param name="dropoutRate">Dropout before the projection.</param>
    /// <param name="batchNorm">Insert BatchNorm after each convolution.</param>
    /// <param name="mean">Scalar input mean (fitted).</param>
    /// <param name="std">Scalar input standard deviation (fitted).</param>
    /// <param name="augmentation">Training-time augmentation of the standardised input, or <c>null</c>.</param>
    /// <param name="perClipNormalization">Normalise each row of every channel over the last axis (CMVN of a spectrogram's bands over time) before standardising.</param>
    public ConvEncoder(string name, string inputColumn, int[] shape, int[] channels, int outputWidth, double dropoutRate,
        bool batchNorm, float mean, float std, ModalityAugmentation? augmentation = null, bool perClipNormalization = false)
        : base(nameof(ConvEncoder), new EncoderContract(name, inputColumn, shape, outputWidth))
    {
        _augmentation = augmentation;
        _perClip = perClipNormalization;
        _inputScale = std > 1e-6f ? 1.0 / std : 1.0;
        if (shape.Length != 3) throw new ArgumentException("The shape must be [channels, height, width].", nameof(shape));
        if (channels.Length == 0) throw new ArgumentException("At least one conv block is required.", nameof(channels));
        _shape = shape.Select(s => (long)s).ToArray();
        norm = new InputStandardizer(new[] { mean }, new[] { std });
        var list = new List<nn.Module<Tensor, Tensor>>();
        int cin = shape[0], h = shape[1], w = shape[2];
        foreach (int c in channels)
        {
            if (h < 2 || w < 2)
                throw new ArgumentException($"Modality '{name}': {channels.Length} pooling blocks need an input of at least {1 << channels.Length}x{1 << channels.Length}, got {shape[1]}x{shape[2]}.", nameof(shape));
            var layers = new List<nn.Module<Tensor, Tensor>> { nn.Conv2d(cin, c, 3, padding: 1) };
            if (batchNorm) layers.Add(nn.BatchNorm2d(c));
            layers.Add(nn.ReLU());
            layers.Add(new MaxPool2x2());
            list.Add(nn.Sequential(layers.ToArray()));
            cin = c; h /= 2; w /= 2;
        }
        blocks = nn.ModuleList(list.ToArray());
        dropout = nn.Dropout(dropoutRate);
        projection = nn.Linear(cin * h * w, outputWidth);
        _stageWidths = channels.Append(outputWidth).ToArray();
        TokenWidth = cin;
        _tokenGrid = new long[] { Math.Min(h, MaxTokenGrid), Math.Min(w, MaxTokenGrid) };
        TokenCount = (int)(_tokenGrid[0] * _tokenGrid[1]);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override IReadOnlyList<int> StageWidths => _stageWidths;

    /// <inheritdoc />
    public override int TokenWidth { get; }

    /// <inheritdoc />
    public override int TokenCount { get; }

    private Tensor FeatureMaps(Tensor x, List<Tensor>? stages)
    {
        var h = x.view(new long[] { -1, _shape[0], _shape[1], _shape[2] });
        if (_perClip)
        {
            // Already zero-mean and unit-spread per band: the dataset-wide standardiser (fitted on the raw input) is skipped.
            var centred = h - h.mean(new long[] { 3 }, keepdim: true);
            var spread = centred.square().mean(new long[] { 3 }, keepdim: true).sqrt();
            h = centred / spread.clamp_min(1e-3) * spread.gt(1e-3).to_type(h.dtype);   // a constant band becomes 0, never NaN
        }
        else h = norm.call(h);
        if (training && _augmentation != null) h = _augmentation.ApplyToMaps(h, _inputScale);
        if (!training && is_inference_mode_enabled()) return ServingMaps(h, stages);
        foreach (var block in blocks)
        {
            h = block.call(h);
            stages?.Add(h.mean(new long[] { 2, 3 }));
        }
        return h;
    }

    /// <summary>A block's serving form: the convolution with its batch norm folded in (channels-last weights).</summary>
    private sealed record ServingBlock(Tensor Weight, Tensor Bias);

    private static readonly long[] Same3x3 = { 1, 1 };

    /// <summary>The blocks in their serving form (see the remarks): the same maps as the modules to float rounding.</summary>
    private Tensor ServingMaps(Tensor h, List<Tensor>? stages)
    {
        var serving = ServingBlocks(h);
        if (h.shape[1] > 1) h = ChannelsLast(h);   // one channel (a spectrogram, a grey image): the same memory either way
        foreach (var block in serving)
        {
            h = MaxPool2x2.Pool(nn.functional.conv2d(h, block.Weight, block.Bias, padding: Same3x3)).relu_();
            stages?.Add(h.mean(new long[] { 2, 3 }));
        }
        return h;
    }

    /// <summary>
    /// Each block's convolution with its batch norm folded in: <c>W·γ/√(σ²+ε)</c> and <c>(b − μ)·γ/√(σ²+ε) + β</c>, in
    /// float64 and then the weights' type; built once (per device) and kept outside any dispose scope.
    /// </summary>
    private ServingBlock[] ServingBlocks(Tensor input)
    {
        var serving = _serving;
        if (serving != null && serving[0].Weight.device_type == input.device_type && serving[0].Weight.device_index == input.device_index) return serving;
        lock (_servingGate)
        {
            ResetInferenceForm();
            serving = new ServingBlock[blocks.Count];
            for (int i = 0; i < blocks.Count; i++)
            {
                using var scope = NewDisposeScope();
                var layers = blocks[i].children().ToArray();
                var conv = (Conv2d)layers[0];
                var w = conv.weight!.to(ScalarType.Float64);
                var b = conv.bias!.to(ScalarType.Float64);
                if (layers.OfType<BatchNorm2d>().SingleOrDefault() is { } bn)
                {
                    var scale = bn.weight!.to(ScalarType.Float64) / (bn.running_var!.to(ScalarType.Float64) + bn.eps).sqrt();
                    w = w * scale.view(-1, 1, 1, 1);
                    b = (b - bn.running_mean!.to(ScalarType.Float64)) * scale + bn.bias!.to(ScalarType.Float64);
                }
                var weight = ChannelsLast(w.to(conv.weight!.dtype)).to(input.device).DetachFromDisposeScope();
                var bias = b.to(conv.weight!.dtype).to(input.device).DetachFromDisposeScope();
                serving[i] = new ServingBlock(weight, bias);
            }
            _serving = serving;
            return serving;
        }
    }

    /// <summary><paramref name="x"/> (<c>[N, C, H, W]</c>) with channels-last strides: the layout oneDNN's convolutions run without reordering.</summary>
    private static Tensor ChannelsLast(Tensor x) => x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <inheritdoc />
    internal override void ResetInferenceForm()
    {
        lock (_servingGate)
        {
            // The weights change while no call scores (training, loading and moving a model are not done while it serves).
            if (_serving != null)
                foreach (var block in _serving) { block.Weight.Dispose(); block.Bias.Dispose(); }
            _serving = null;
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) ResetInferenceForm();
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override void train(bool on = true)
    {
        ResetInferenceForm();
        base.train(on);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => Embed(FeatureMaps(x, null));

    /// <inheritdoc />
    public override Tensor[] ForwardStages(Tensor x)
    {
        var stages = new List<Tensor>();
        var maps = FeatureMaps(x, stages);
        stages.Add(Embed(maps));
        return stages.ToArray();
    }

    private Tensor Embed(Tensor maps) => nn.functional.relu(projection.call(Dropped(dropout, maps.flatten(1))));

    /// <inheritdoc />
    public override Tensor Tokens(Tensor x) => ToTokens(FeatureMaps(x, null));

    /// <inheritdoc />
    public override (Tensor embedding, Tensor tokens) EncodeWithTokens(Tensor x)
    {
        var maps = FeatureMaps(x, null);
        return (Embed(maps), ToTokens(maps));
    }

    private Tensor ToTokens(Tensor maps) => nn.functional.adaptive_avg_pool2d(maps, _tokenGrid).flatten(2).transpose(1, 2);

    /// <inheritdoc />
    public override OnnxEncoding ExportOnnx(OnnxGraph graph, string input, bool tokens)
    {
        var h = graph.Reshape(input, -1, _shape[0], _shape[1], _shape[2]);
        if (_perClip)
        {
            var centred = graph.Sub(h, graph.ReduceMean(h, true, 3));
            var spread = graph.Sqrt(graph.ReduceMean(graph.Mul(centred, centred), true, 3));
            var floor = graph.Scalar(1e-3f);
            h = graph.Mul(graph.Div(centred, graph.Max(spread, floor)), graph.Cast(graph.Node("Greater", new[] { spread, floor }), OnnxElementType.Float));
        }
        else h = norm.ExportOnnx(graph, h);
        var stages = new List<string>();
        foreach (var block in blocks)
        {
            h = graph.Layer(block, h);
            stages.Add(graph.ReduceMean(h, false, 2, 3));
        }
        stages.Add(graph.Relu(graph.Linear(projection, graph.Reshape(h, 0, -1))));
        string? tokenValue = null;
        if (tokens)
        {
            // adaptive_avg_pool2d as a constant pooling matrix over the flattened map: exact for any map size.
            long mh = _shape[1] >> blocks.Count, mw = _shape[2] >> blocks.Count, gh = _tokenGrid[0], gw = _tokenGrid[1];
            var pool = new float[mh * mw * gh * gw];        // [H*W, G]
            for (long i = 0; i < gh; i++)
                for (long j = 0; j < gw; j++)
                {
                    long r0 = i * mh / gh, r1 = ((i + 1) * mh + gh - 1) / gh, c0 = j * mw / gw, c1 = ((j + 1) * mw + gw - 1) / gw;
                    float w = 1f / ((r1 - r0) * (c1 - c0));
                    for (long r = r0; r < r1; r++)
                        for (long c = c0; c < c1; c++) pool[(r * mw + c) * (gh * gw) + i * gw + j] = w;
                }
            var flat = graph.Reshape(h, 0, 0, -1);                                                    // [B, C, H*W]
            var pooled = graph.MatMul(flat, graph.Constant("token_pool", pool, new[] { mh * mw, gh * gw }));   // [B, C, G]
            tokenValue = graph.Transpose(pooled, 0, 2, 1);
        }
        return new OnnxEncoding(stages, tokenValue);
    }
}
