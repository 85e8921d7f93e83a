using MLNetFusion.Models;
using MLNetFusion.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Trainers.CrossModal;

/// <summary>
/// Cross-modal fusion: every encoder yields a summary token (its embedding) followed by context tokens (pooled conv
/// feature-map positions; none for an MLP), projected to a common width with positional and modality embeddings. At each
/// of <c>depth</c> exchanges, every modality's tokens cross-attend to the other modalities' tokens (plus a learned null
/// token, so a row with no other modality is safe). Each modality's summary token is then read out and the readouts are
/// averaged over the present modalities.
/// </summary>
internal sealed class CrossModalFusionNetwork : FusionNetwork
{
    private readonly ModuleList<Linear> token_proj;
    private readonly ModuleList<Linear> summary_proj;
    private readonly ParameterList positions;
    private readonly Parameter modality_embedding;
    private readonly Parameter null_token;
    private readonly ModuleList<CrossAttentionBlock> exchanges;
    private readonly LayerNorm norm;
    private readonly ClassifierHead head;
    private readonly int _width, _depth, _modalities;

    /// <summary>Creates the network.</summary>
    public CrossModalFusionNetwork(IReadOnlyList<ModalityEncoder> encoders, int classes, int width, int heads, int depth, double attentionDropout,
        int[] headWidths, double headDropout, double modalityDropout, double auxWeight)
        : base(nameof(CrossModalFusionNetwork), encoders, classes, modalityDropout, auxWeight, encoders.Select(_ => width).ToArray())
    {
        _width = width; _depth = depth; _modalities = encoders.Count;
        token_proj = nn.ModuleList(encoders.Select(e => nn.Linear(e.TokenWidth, width)).ToArray());
        summary_proj = nn.ModuleList(encoders.Select(e => nn.Linear(e.Contract.OutputWidth, width)).ToArray());
        positions = nn.ParameterList(encoders.Select(e => nn.Parameter(randn(e.TokenCount + 1, width) * 0.02)).ToArray());
        modality_embedding = nn.Parameter(randn(encoders.Count, width) * 0.02);
        null_token = nn.Parameter(randn(1, 1, width) * 0.02);
        exchanges = nn.ModuleList(Enumerable.Range(0, depth * encoders.Count).Select(_ => new CrossAttentionBlock(width, heads, attentionDropout)).ToArray());
        norm = nn.LayerNorm(width);
        head = new ClassifierHead(width, headWidths, headDropout, classes);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int EmbeddingWidth => _width;

    /// <summary>Number of cross-attention exchanges.</summary>
    public int Depth => _depth;

    /// <inheritdoc />
    protected override (Tensor logits, Tensor embedding, Tensor[] modalityEmbeddings) Fuse(Tensor[] inputs, Tensor[] present)
    {
        int m = _modalities;
        var tokens = new Tensor[m];
        var own = new Tensor[m];
        for (int i = 0; i < m; i++)
        {
            var (embedding, context) = encoders[i].EncodeWithTokens(inputs[i]);
            var summary = summary_proj[i].call(embedding);
            own[i] = summary;                                // before any exchange: this modality alone (auxiliary head)
            tokens[i] = cat(new[] { summary.unsqueeze(1), token_proj[i].call(context) }, 1) + positions[i] + modality_embedding[i];
        }
        long b = inputs[0].shape[0];
        if (m > 1)
        {
            var nullTok = null_token.expand(b, 1, _width);
            var nullMask = zeros(new long[] { b, 1 }, device: inputs[0].device);
            for (int d = 0; d < _depth; d++)
            {
                var next = new Tensor[m];
                for (int i = 0; i < m; i++)
                {
                    var ctx = new List<Tensor> { nullTok };
                    var mask = new List<Tensor> { nullMask };
                    for (int j = 0; j < m; j++)
                    {
                        if (j == i) continue;
                        ctx.Add(tokens[j]);
                        // Absent modalities are masked out of the context.
                        mask.Add(((1 - present[j]) * -1e9f).unsqueeze(1).expand(b, tokens[j].shape[1]));
                    }
                    next[i] = exchanges[d * m + i].call(tokens[i], cat(ctx, 1), cat(mask, 1));
                }
                tokens = next;
            }
        }
        var p = stack(present, 1);
        var pooled = stack(tokens.Select(t => t.select(1, 0)).ToArray(), 1);             // summary tokens, [B, M, W]
        var fused = (pooled * p.unsqueeze(2)).sum(1) / p.sum(1, keepdim: true).clamp_min(1);
        var h = norm.call(fused);
        return (head.call(h), h, own);
    }

    /// <inheritdoc />
    protected override (string logits, string embedding, string[] modalityEmbeddings) FuseOnnx(OnnxGraph g, string[] inputs, string[] present)
    {
        int m = _modalities;
        var tokens = new string[m];
        var own = new string[m];
        for (int i = 0; i < m; i++)
            using (g.Scope(encoders[i].Contract.Name))
            {
                var encoded = encoders[i].ExportOnnx(g, inputs[i], true);
                var summary = g.Linear(summary_proj[i], encoded.Embedding);
                own[i] = summary;
                var sequence = g.Concat(1, new[] { g.Unsqueeze(summary, 1), g.Linear(token_proj[i], encoded.Tokens!) });
                tokens[i] = g.Add(g.Add(sequence, g.Constant("position", positions[i])), g.Constant("modality", modality_embedding[i]));
            }
        if (m > 1)
        {
            // [B, 1, 1] zeros from the batch itself: broadcasting gives the null token and its mask the batch dimension.
            var batchZeros = g.Mul(g.Unsqueeze(present[0], 1, 2), g.Scalar(0f));
            var nullTok = g.Add(g.Constant("null_token", null_token), batchZeros);                                   // [B, 1, W]
            var nullMask = g.Squeeze(batchZeros, 2);                                                                 // [B, 1]
            for (int d = 0; d < _depth; d++)
            {
                var next = new string[m];
                for (int i = 0; i < m; i++)
                    using (g.Scope($"exchange{d}_{encoders[i].Contract.Name}"))
                    {
                        var ctx = new List<string> { nullTok };
                        var mask = new List<string> { nullMask };
                        for (int j = 0; j < m; j++)
                        {
                            if (j == i) continue;
                            ctx.Add(tokens[j]);
                            var absent = g.Unsqueeze(g.Mul(g.Sub(g.Scalar(1f), present[j]), g.Scalar(-1e9f)), 1);          // [B, 1]
                            long count = encoders[j].TokenCount + 1;
                            mask.Add(g.Mul(absent, g.Constant("ones", Enumerable.Repeat(1f, (int)count).ToArray(), new[] { 1L, count })));
                        }
                        next[i] = exchanges[d * m + i].ExportOnnx(g, tokens[i], g.Concat(1, ctx), g.Concat(1, mask));
                    }
                tokens = next;
            }
        }
        var p = g.Stack1(present);
        var pooled = g.Stack1(tokens.Select(t => g.Select(t, 1, 0)).ToArray());                                      // [B, M, W]
        var fused = g.Div(g.ReduceSum(g.Mul(pooled, g.Unsqueeze(p, 2)), false, 1), g.Max(g.ReduceSum(p, true, 1), g.Scalar(1f)));
        var h = g.LayerNorm(norm, fused);
        return (ClassifierHead.ExportOnnx(head, g, h), h, own);
    }
}
