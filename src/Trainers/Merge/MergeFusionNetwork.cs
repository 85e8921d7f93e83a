using MLNetFusion.Models;
using MLNetFusion.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Trainers.Merge;

/// <summary>How <see cref="MergeFusionNetwork"/> combines per-modality embeddings of one width.</summary>
public enum MergeOperation
{
    /// <summary>Sum of the present modalities' embeddings.</summary>
    Sum,
    /// <summary>Mean of the present modalities' embeddings.</summary>
    Mean,
    /// <summary>Elementwise product (a missing modality contributes 1).</summary>
    Product,
    /// <summary>Elementwise maximum over present modalities.</summary>
    Max,
    /// <summary>Sum weighted by learned per-modality sigmoid gates computed from each embedding.</summary>
    Gated,
    /// <summary>Softmax attention weights over the present modalities (additive attention scores).</summary>
    Attention,
    /// <summary>Low-rank multimodal tensor fusion (LMF, Liu et al. 2018; MultiBench's <c>LowRankTensorFusion</c>).</summary>
    LowRankTensor,
}

/// <summary>
/// Merge fusion: each encoder's embedding is projected to a common width, then combined arithmetically
/// (<see cref="MergeOperation"/>), then classified.
/// </summary>
public sealed class MergeFusionNetwork : FusionNetwork
{
    private readonly ModuleList<Linear> projections;
    private readonly ModuleList<Linear> gates;
    private readonly Linear? attention_key;
    private readonly Parameter? attention_query;
    private readonly ParameterList lmf_factors;
    private readonly Parameter? lmf_weights;
    private readonly Parameter? lmf_bias;
    private readonly LayerNorm norm;
    private readonly ClassifierHead head;
    private readonly MergeOperation _op;
    private readonly int _width;

    /// <summary>Creates the network.</summary>
    public MergeFusionNetwork(IReadOnlyList<ModalityEncoder> encoders, int classes, MergeOperation op, int width, int rank,
        int[] headWidths, double headDropout, double modalityDropout, double auxWeight)
        : base(nameof(MergeFusionNetwork), encoders, classes, modalityDropout, auxWeight)
    {
        _op = op;
        _width = width;
        projections = nn.ModuleList(encoders.Select(e => nn.Linear(e.Contract.OutputWidth, width)).ToArray());
        gates = nn.ModuleList(op == MergeOperation.Gated ? encoders.Select(_ => nn.Linear(width, 1)).ToArray() : Array.Empty<Linear>());
        if (op == MergeOperation.Attention)
        {
            attention_key = nn.Linear(width, width);
            attention_query = nn.Parameter(randn(width) * (1.0 / Math.Sqrt(width)));
        }
        var factors = new List<Parameter>();
        if (op == MergeOperation.LowRankTensor)
        {
            // One factor per modality: [rank, width + 1, width]; the appended 1 keeps lower-order interactions.
            foreach (var _ in encoders)
                factors.Add(nn.Parameter(nn.init.xavier_normal_(empty(rank, width + 1, width))));
            lmf_weights = nn.Parameter(nn.init.xavier_normal_(empty(1, rank)));
            lmf_bias = nn.Parameter(zeros(1, width));
        }
        lmf_factors = nn.ParameterList(factors.ToArray());
        norm = nn.LayerNorm(width);
        head = new ClassifierHead(width, headWidths, headDropout, classes);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int EmbeddingWidth => _width;

    /// <summary>The merge operation.</summary>
    public MergeOperation Operation => _op;

    /// <inheritdoc />
    protected override (Tensor logits, Tensor embedding, Tensor[] modalityEmbeddings) Fuse(Tensor[] inputs, Tensor[] present)
    {
        int m = inputs.Length;
        var own = new Tensor[m];
        var z = new Tensor[m];
        for (int i = 0; i < m; i++)
        {
            own[i] = encoders[i].call(inputs[i]);
            z[i] = projections[i].call(own[i]);
        }
        var e = stack(z, 1);                          // [B, M, W]
        var p = stack(present, 1);                     // [B, M]
        // Each operation builds only the masks it reads (a one-row prediction pays per operation).
        Tensor P3() => p.unsqueeze(2);
        Tensor fused = _op switch
        {
            MergeOperation.Sum => (e * P3()).sum(1),
            MergeOperation.Mean => (e * P3()).sum(1) / p.sum(1, keepdim: true).clamp_min(1),
            MergeOperation.Product => ProductOf(e, P3()),
            MergeOperation.Max => e.masked_fill(P3().eq(0), -1e9f).max(1).values,
            MergeOperation.Gated => Gated(z, p),
            MergeOperation.Attention => Attend(e, p),
            MergeOperation.LowRankTensor => LowRank(z, present),
            _ => throw new InvalidOperationException($"Unknown merge operation {_op}."),
        };
        var h = norm.call(fused);
        return (head.call(h), h, own);
    }

    private static Tensor ProductOf(Tensor e, Tensor p3) => (e * p3 + (1 - p3)).prod(1);

    private Tensor Gated(Tensor[] z, Tensor p)
    {
        Tensor? sum = null;
        for (int i = 0; i < z.Length; i++)
        {
            var g = sigmoid(gates[i].call(z[i])) * p.select(1, i).unsqueeze(1);
            sum = sum is null ? g * z[i] : sum + g * z[i];
        }
        return sum!;
    }

    private Tensor Attend(Tensor e, Tensor p)
    {
        var scores = tanh(attention_key!.call(e)).matmul(attention_query!);     // [B, M]
        scores = scores.masked_fill(p.eq(0), -1e9f);
        var alpha = nn.functional.softmax(scores, 1).unsqueeze(2);
        return (alpha * e).sum(1);
    }

    private Tensor LowRank(Tensor[] z, Tensor[] present)
    {
        Tensor? product = null;
        for (int i = 0; i < z.Length; i++)
        {
            var zi = z[i] * present[i].unsqueeze(1);
            var withOne = cat(new[] { zi, ones(zi.shape[0], 1) }, 1);           // [B, W+1]
            var f = matmul(withOne, lmf_factors[i]);                            // [rank, B, W]
            product = product is null ? f : product * f;
        }
        // Weighted sum over the rank dimension: [1, rank] x [B, rank, W] -> [B, W].
        var fused = matmul(lmf_weights!, product!.permute(1, 0, 2)).squeeze(1) + lmf_bias!;
        return fused;
    }

    /// <inheritdoc />
    protected override (string logits, string embedding, string[] modalityEmbeddings) FuseOnnx(OnnxGraph g, string[] inputs, string[] present)
    {
        int m = inputs.Length;
        var own = new string[m];
        var z = new string[m];
        for (int i = 0; i < m; i++)
            using (g.Scope(encoders[i].Contract.Name))
            {
                own[i] = encoders[i].ExportOnnx(g, inputs[i], false).Embedding;
                z[i] = g.Linear(projections[i], own[i]);
            }
        var e = g.Stack1(z);                                  // [B, M, W]
        var p = g.Stack1(present);                            // [B, M]
        var p3 = g.Unsqueeze(p, 2);
        var one = g.Scalar(1f);
        string fused = _op switch
        {
            MergeOperation.Sum => g.ReduceSum(g.Mul(e, p3), false, 1),
            MergeOperation.Mean => g.Div(g.ReduceSum(g.Mul(e, p3), false, 1), g.Max(g.ReduceSum(p, true, 1), one)),
            MergeOperation.Product => g.Reduce("ReduceProd", g.Add(g.Mul(e, p3), g.Sub(one, p3)), false, 1),
            MergeOperation.Max => g.Reduce("ReduceMax", g.Where(g.Node("Equal", new[] { p3, g.Scalar(0f) }), g.Scalar(-1e9f), e), false, 1),
            MergeOperation.Gated => GatedOnnx(g, z, present),
            MergeOperation.Attention => AttendOnnx(g, e, p),
            MergeOperation.LowRankTensor => LowRankOnnx(g, z, present),
            _ => throw new InvalidOperationException($"Unknown merge operation {_op}."),
        };
        var h = g.LayerNorm(norm, fused);
        return (ClassifierHead.ExportOnnx(head, g, h), h, own);
    }

    private string GatedOnnx(OnnxGraph g, string[] z, string[] present)
    {
        string? sum = null;
        for (int i = 0; i < z.Length; i++)
        {
            var gate = g.Mul(g.Sigmoid(g.Linear(gates[i], z[i])), g.Unsqueeze(present[i], 1));
            var term = g.Mul(gate, z[i]);
            sum = sum is null ? term : g.Add(sum, term);
        }
        return sum!;
    }

    private string AttendOnnx(OnnxGraph g, string e, string p)
    {
        var scores = g.MatMul(g.Tanh(g.Linear(attention_key!, e)), g.Constant("query", attention_query!));     // [B, M]
        scores = g.Where(g.Node("Equal", new[] { p, g.Scalar(0f) }), g.Scalar(-1e9f), scores);
        var alpha = g.Unsqueeze(g.Softmax(scores, 1), 2);
        return g.ReduceSum(g.Mul(alpha, e), false, 1);
    }

    private string LowRankOnnx(OnnxGraph g, string[] z, string[] present)
    {
        string? product = null;
        for (int i = 0; i < z.Length; i++)
        {
            var pi = g.Unsqueeze(present[i], 1);
            var zi = g.Mul(z[i], pi);
            var withOne = g.Concat(1, new[] { zi, g.Add(g.Mul(pi, g.Scalar(0f)), g.Scalar(1f)) });              // [B, W+1]
            var f = g.MatMul(withOne, g.Constant("lmf_factor", lmf_factors[i]));                              // [rank, B, W]
            product = product is null ? f : g.Mul(product, f);
        }
        var fused = g.Squeeze(g.MatMul(g.Constant("lmf_weights", lmf_weights!), g.Transpose(product!, 1, 0, 2)), 1);
        return g.Add(fused, g.Constant("lmf_bias", lmf_bias!));
    }
}
