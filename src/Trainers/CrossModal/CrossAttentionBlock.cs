using MLNetFusion.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Trainers.CrossModal;

/// <summary>
/// A pre-norm cross-attention block: queries from one modality's tokens attend to context tokens from the other
/// modalities (multi-head scaled dot-product attention with an additive mask), then a feed-forward layer; both residual.
/// </summary>
internal sealed class CrossAttentionBlock : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly LayerNorm norm_q;
    private readonly LayerNorm norm_kv;
    private readonly LayerNorm norm_ff;
    private readonly Linear q_proj, k_proj, v_proj, out_proj;
    private readonly Sequential ffn;
    private readonly Dropout dropout;
    private readonly int _heads, _width;

    /// <summary>Creates the block.</summary>
    public CrossAttentionBlock(int width, int heads, double dropoutRate) : base(nameof(CrossAttentionBlock))
    {
        if (width % heads != 0) throw new ArgumentException($"Width {width} must be divisible by the number of heads {heads}.");
        _heads = heads; _width = width;
        norm_q = nn.LayerNorm(width); norm_kv = nn.LayerNorm(width); norm_ff = nn.LayerNorm(width);
        q_proj = nn.Linear(width, width); k_proj = nn.Linear(width, width); v_proj = nn.Linear(width, width); out_proj = nn.Linear(width, width);
        ffn = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Dropout(dropoutRate), nn.Linear(2 * width, width));
        dropout = nn.Dropout(dropoutRate);
        RegisterComponents();
    }

    /// <summary>Attends <paramref name="x"/> <c>[B, Tq, W]</c> to <paramref name="context"/> <c>[B, Tk, W]</c>.</summary>
    /// <param name="x">Query tokens.</param>
    /// <param name="context">Context tokens.</param>
    /// <param name="mask">Additive mask <c>[B, Tk]</c>: 0 to attend, a large negative value to ignore.</param>
    /// <remarks>
    /// The scores of a block are <c>[B, heads, Tq, Tk]</c>, the largest tensors of cross-modal fusion (B × heads × Tq × Tk
    /// floats). They are scaled and masked in place, and every intermediate tensor is released when the block returns
    /// (autograd keeps what its backward pass needs), so inference and training never hold every block's scores at once.
    /// </remarks>
    public override Tensor forward(Tensor x, Tensor context, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], tq = x.shape[1], tk = context.shape[1];
        int dh = _width / _heads;
        var q = q_proj.call(norm_q.call(x)).view(b, tq, _heads, dh).transpose(1, 2);
        var kvIn = norm_kv.call(context);
        var k = k_proj.call(kvIn).view(b, tk, _heads, dh).transpose(1, 2);
        var v = v_proj.call(kvIn).view(b, tk, _heads, dh).transpose(1, 2);
        var scores = q.matmul(k.transpose(2, 3));
        scores.div_(Math.Sqrt(dh)).add_(mask.view(b, 1, 1, tk));      // in place: the matmul's backward reads q and k, not its output
        var weights = nn.functional.softmax(scores, -1);
        scores.Dispose();
        var attn = weights.matmul(v).transpose(1, 2).reshape(b, tq, _width);
        var y = x + dropout.call(out_proj.call(attn));
        return (y + ffn.call(norm_ff.call(y))).MoveToOuterDisposeScope();
    }

    /// <summary>Writes the block's inference computation to an ONNX graph (the shapes of <see cref="forward"/>).</summary>
    public string ExportOnnx(OnnxGraph g, string x, string context, string mask)
    {
        int dh = _width / _heads;
        var q = g.Transpose(g.Reshape(g.Linear(q_proj, g.LayerNorm(norm_q, x)), 0, 0, _heads, dh), 0, 2, 1, 3);          // [B, H, Tq, dh]
        var kvIn = g.LayerNorm(norm_kv, context);
        var kT = g.Transpose(g.Reshape(g.Linear(k_proj, kvIn), 0, 0, _heads, dh), 0, 2, 3, 1);                         // [B, H, dh, Tk]
        var v = g.Transpose(g.Reshape(g.Linear(v_proj, kvIn), 0, 0, _heads, dh), 0, 2, 1, 3);                          // [B, H, Tk, dh]
        var scores = g.Add(g.Div(g.MatMul(q, kT), g.Scalar((float)Math.Sqrt(dh))), g.Unsqueeze(mask, 1, 2));            // + [B, 1, 1, Tk]
        var attn = g.Reshape(g.Transpose(g.MatMul(g.Softmax(scores, -1), v), 0, 2, 1, 3), 0, 0, _width);                 // [B, Tq, W]
        x = g.Add(x, g.Linear(out_proj, attn));
        return g.Add(x, g.Sequential(ffn, g.LayerNorm(norm_ff, x)));
    }
}
