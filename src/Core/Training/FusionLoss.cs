using MLNetFusion.Data;
using static TorchSharp.torch;

namespace MLNetFusion.Training;

/// <summary>
/// The training objective of the fusion networks: cross-entropy of the fused logits, plus
/// <see cref="AuxiliaryWeight"/> times the mean over modalities of each auxiliary head's cross-entropy, each over the rows
/// where that modality is really present (a modality hidden by modality dropout still teaches its own head).
/// </summary>
/// <remarks>
/// The training loop calls <see cref="Compute"/> on every training batch; validation uses the cross-entropy of the fused
/// logits alone. Derive from it to change the objective (balanced-learning methods plug in here).
/// </remarks>
public class FusionLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="auxiliaryWeight">Weight of the per-modality auxiliary losses (0 = fused cross-entropy only).</param>
    public FusionLoss(double auxiliaryWeight = 0)
    {
        Check.NonNegative(auxiliaryWeight);
        AuxiliaryWeight = auxiliaryWeight;
    }

    /// <summary>Weight of the per-modality auxiliary losses.</summary>
    public double AuxiliaryWeight { get; }

    /// <summary>The scalar loss of a labelled batch.</summary>
    /// <param name="output">The network's output on <paramref name="batch"/>.</param>
    /// <param name="batch">The batch; its <see cref="FusionBatch.Labels"/> must be set.</param>
    public virtual Tensor Compute(FusionOutput output, FusionBatch batch)
    {
        var labels = batch.Labels ?? throw new ArgumentException("The batch has no labels, so there is no loss to compute.", nameof(batch));
        var loss = nn.functional.cross_entropy(output.Logits, labels);
        if (AuxiliaryWeight > 0 && output.ModalityLogits is { Length: > 0 } heads)
            loss = loss + AuxiliaryWeight * Auxiliary(heads, batch).squeeze() / heads.Length;
        return loss;
    }

    /// <summary>
    /// Called after the loss's backward pass and before gradient clipping and the optimiser step, to change the gradients
    /// (balanced-learning methods such as <see cref="BalancedFusionLoss"/>). The default does nothing.
    /// </summary>
    /// <param name="network">The network being trained.</param>
    /// <param name="output">Its output on <paramref name="batch"/>.</param>
    /// <param name="batch">The batch.</param>
    public virtual void AfterBackward(IFusionNetwork network, FusionOutput output, FusionBatch batch) { }

    /// <summary>What this loss adds to an epoch's log line (for example OGM-GE's mean coefficients), or <c>null</c>; called once per epoch.</summary>
    public virtual string? EpochSummary() => null;

    /// <summary>Sum over modalities of each head's mean cross-entropy over the rows where its modality is present, <c>[1]</c>.</summary>
    protected static Tensor Auxiliary(Tensor[] modalityLogits, FusionBatch batch)
    {
        Tensor aux = zeros(1, device: batch.Labels!.device);
        for (int m = 0; m < modalityLogits.Length; m++)
        {
            var mask = batch.Present[m];
            var ce = nn.functional.cross_entropy(modalityLogits[m], batch.Labels!, reduction: nn.Reduction.None);
            aux = aux + (ce * mask).sum() / mask.sum().clamp_min(1);
        }
        return aux;
    }
}
