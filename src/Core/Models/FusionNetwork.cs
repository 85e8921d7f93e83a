using MLNetFusion.Data;
using MLNetFusion.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>
/// Base for every MLNetFusion network: per-modality encoders, modality dropout, masking of missing modalities,
/// per-modality auxiliary heads and the loss. Families implement only <see cref="Fuse"/>.
/// </summary>
/// <remarks>
/// A modality is missing for a row when its input vector is all NaN (see <see cref="FusionBatch.Present"/>). Missing and
/// dropped modalities have their embedding zeroed and are excluded from mean/attention merges, so the model predicts
/// from the modalities present. Modality dropout trains exactly that situation and keeps one modality from dominating.
/// </remarks>
public abstract class FusionNetwork : nn.Module<FusionBatch, FusionOutput>, IFusionNetwork
{
    /// <summary>One encoder per modality, in the layout's order.</summary>
    protected readonly ModuleList<ModalityEncoder> encoders;
    private readonly ModuleList<Linear> aux_heads;
    private readonly double _modalityDropout;
    private readonly double _auxWeight;

    /// <summary>Creates the network.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="modalityEncoders">Encoders, one per modality.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="modalityDropout">Probability of dropping each modality of each training row.</param>
    /// <param name="auxiliaryLossWeight">Weight of the per-modality auxiliary classification losses (0 = none).</param>
    /// <param name="auxiliaryWidths">Width of each modality's own embedding fed to its auxiliary head (default: the encoder's output width).</param>
    protected FusionNetwork(string name, IReadOnlyList<ModalityEncoder> modalityEncoders, int classCount, double modalityDropout, double auxiliaryLossWeight,
        IReadOnlyList<int>? auxiliaryWidths = null)
        : base(name)
    {
        ClassCount = classCount;
        _modalityDropout = modalityDropout;
        _auxWeight = auxiliaryLossWeight;
        encoders = nn.ModuleList(modalityEncoders.ToArray());
        aux_heads = nn.ModuleList(auxiliaryLossWeight > 0
            ? modalityEncoders.Select((e, i) => nn.Linear(auxiliaryWidths?[i] ?? e.Contract.OutputWidth, classCount)).ToArray()
            : Array.Empty<Linear>());
    }

    /// <inheritdoc />
    public nn.Module Module => this;

    /// <inheritdoc />
    public int ClassCount { get; }

    /// <inheritdoc />
    public abstract int EmbeddingWidth { get; }

    /// <summary>The encoders' contracts.</summary>
    public IReadOnlyList<EncoderContract> Contracts => encoders.Select(e => e.Contract).ToArray();

    /// <summary>Fuses the modalities.</summary>
    /// <param name="inputs">Per modality, <c>[B, size]</c>.</param>
    /// <param name="present">Per modality, <c>[B]</c> float mask (1 = use).</param>
    /// <returns>Logits, the fused embedding, and each modality's own embedding (for auxiliary heads).</returns>
    protected abstract (Tensor logits, Tensor embedding, Tensor[] modalityEmbeddings) Fuse(Tensor[] inputs, Tensor[] present);

    /// <inheritdoc />
    public FusionOutput Forward(FusionBatch batch) => call(batch);

    /// <inheritdoc />
    public override FusionOutput forward(FusionBatch batch)
    {
        var present = batch.Present;
        if (training && _modalityDropout > 0 && present.Length > 1) present = DropModalities(present);
        var (logits, embedding, modalityEmbeddings) = Fuse(batch.Features, present);
        Tensor? loss = null;
        if (batch.Labels is not null)
        {
            loss = nn.functional.cross_entropy(logits, batch.Labels);
            if (_auxWeight > 0 && training)
            {
                // Each auxiliary head sees only its own modality and only rows where that modality is really present.
                Tensor aux = zeros(1);
                for (int m = 0; m < modalityEmbeddings.Length; m++)
                {
                    var mask = batch.Present[m];
                    var ce = nn.functional.cross_entropy(aux_heads[m].call(modalityEmbeddings[m]), batch.Labels, reduction: nn.Reduction.None);
                    aux = aux + (ce * mask).sum() / mask.sum().clamp_min(1);
                }
                loss = loss + _auxWeight * aux.squeeze() / modalityEmbeddings.Length;
            }
        }
        return new FusionOutput(logits, loss, embedding);
    }

    private Tensor[] DropModalities(Tensor[] present)
    {
        int m = present.Length;
        var stacked = stack(present, 1);                                   // [B, M]
        var keep = (rand_like(stacked) >= _modalityDropout).to_type(ScalarType.Float32);
        var kept = stacked * keep;
        // Never drop every present modality of a row: such rows keep their original mask.
        var none = kept.sum(1, keepdim: true).eq(0);
        kept = where(none, stacked, kept);
        return Enumerable.Range(0, m).Select(i => kept.select(1, i)).ToArray();
    }

    /// <summary>Runs each encoder and zeroes the embedding of absent modalities.</summary>
    protected Tensor[] EncodeAll(Tensor[] inputs, Tensor[] present)
    {
        var result = new Tensor[inputs.Length];
        for (int m = 0; m < inputs.Length; m++) result[m] = encoders[m].call(inputs[m]) * present[m].unsqueeze(1);
        return result;
    }
}
