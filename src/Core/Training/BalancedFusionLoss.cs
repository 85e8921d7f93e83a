using MLNetFusion.Data;
using MLNetFusion.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Training;

/// <summary>
/// <see cref="FusionLoss"/> with on-the-fly gradient modulation and Gaussian enhancement (OGM-GE; Peng et al., "Balanced
/// Multimodal Learning via On-the-fly Gradient Modulation", CVPR 2022). Joint training learns the easiest modality first
/// and the others stop learning ("modality competition"); OGM-GE slows the dominant modality's encoder on every batch
/// so that the others keep learning.
/// </summary>
/// <remarks>
/// Per batch, each modality's confidence is the summed probability its auxiliary head gives the true class, over the
/// rows where it is present: <c>s_m</c>. Its dominance is <c>ρ_m = s_m / mean(s_j, j ≠ m)</c> (with two modalities,
/// the paper's ratio). A dominant modality (<c>ρ_m &gt; 1</c>) has its encoder's gradients multiplied by
/// <c>k_m = 1 − tanh(α · (ρ_m − 1))</c>; the others keep <c>k_m = 1</c>. With Gaussian enhancement, noise of the same
/// standard deviation as each encoder weight's gradient is then added to it, which the paper shows restores the
/// generalisation that the smaller gradients would lose. The auxiliary heads supply the per-modality predictions, so
/// <c>AuxiliaryLossWeight</c> must be above 0.
/// </remarks>
public sealed class BalancedFusionLoss : FusionLoss
{
    private double[] _coefficientSum = Array.Empty<double>();
    private long _batches;

    /// <summary>Creates the loss.</summary>
    /// <param name="auxiliaryWeight">Weight of the auxiliary per-modality losses (above 0: OGM-GE needs the heads).</param>
    /// <param name="alpha">Modulation strength α (the paper uses 0.1 to 1); 0 disables the modulation.</param>
    /// <param name="gaussianEnhancement">Add the gradient-sized Gaussian noise (the "GE" of OGM-GE).</param>
    public BalancedFusionLoss(double auxiliaryWeight, double alpha, bool gaussianEnhancement = true) : base(auxiliaryWeight)
    {
        if (!(auxiliaryWeight > 0))
            throw new ArgumentOutOfRangeException(nameof(auxiliaryWeight), auxiliaryWeight, "OGM-GE needs the auxiliary per-modality heads." + Environment.NewLine +
                "Hint: keep AuxiliaryLossWeight above 0 (default 0.5) when BalancedLearningAlpha is set.");
        Check.InRange(alpha, 0, 10);
        Alpha = alpha;
        GaussianEnhancement = gaussianEnhancement;
    }

    /// <summary>Modulation strength α.</summary>
    public double Alpha { get; }

    /// <summary>Whether the Gaussian enhancement is added.</summary>
    public bool GaussianEnhancement { get; }

    /// <summary>Mean modulation coefficient per modality since the last <see cref="TakeMeanCoefficients"/> (1 = never slowed).</summary>
    public double[] TakeMeanCoefficients()
    {
        var mean = _coefficientSum.Select(s => _batches > 0 ? s / _batches : 1).ToArray();
        Array.Clear(_coefficientSum);
        _batches = 0;
        return mean;
    }

    /// <summary>
    /// The modulation coefficients of the modalities from their confidences: <c>k_m = 1 − tanh(α · (ρ_m − 1))</c> when
    /// <c>ρ_m = s_m / mean(s_j, j ≠ m) &gt; 1</c>, else 1.
    /// </summary>
    /// <param name="confidences">Per modality, the summed probability of the true class (<c>s_m</c>).</param>
    /// <param name="alpha">Modulation strength α.</param>
    public static double[] Coefficients(IReadOnlyList<double> confidences, double alpha)
    {
        int m = confidences.Count;
        var k = Enumerable.Repeat(1.0, m).ToArray();
        if (m < 2) return k;
        for (int i = 0; i < m; i++)
        {
            double others = 0;
            for (int j = 0; j < m; j++) if (j != i) others += confidences[j];
            others /= m - 1;
            double ratio = others > 0 ? confidences[i] / others : (confidences[i] > 0 ? double.PositiveInfinity : 1);
            if (ratio > 1) k[i] = 1 - Math.Tanh(alpha * (ratio - 1));
        }
        return k;
    }

    /// <summary>Per modality, the summed probability its auxiliary head gives the true class over the rows where it is present (<c>s_m</c>).</summary>
    /// <param name="output">The network's output in training mode (with <see cref="FusionOutput.ModalityLogits"/>).</param>
    /// <param name="batch">The labelled batch.</param>
    public static double[] Confidences(FusionOutput output, FusionBatch batch)
    {
        var heads = output.ModalityLogits ?? throw new ArgumentException("The output has no per-modality logits (train with AuxiliaryLossWeight above 0).", nameof(output));
        var confidences = new double[heads.Length];
        using var _ = no_grad();
        for (int m = 0; m < heads.Length; m++)
        {
            using var p = nn.functional.softmax(heads[m].detach(), 1).gather(1, batch.Labels!.unsqueeze(1)).squeeze(1);
            confidences[m] = (p * batch.Present[m]).sum().item<float>();
        }
        return confidences;
    }

    /// <inheritdoc />
    /// <inheritdoc />
    public override string? EpochSummary() => "OGM-GE mean coefficients " + string.Join("/", TakeMeanCoefficients().Select(c => c.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)));

    /// <inheritdoc />
    public override void AfterBackward(IFusionNetwork network, FusionOutput output, FusionBatch batch)
    {
        if (Alpha <= 0 || output.ModalityLogits is not { Length: > 1 } heads || network is not FusionNetwork fusion) return;
        var k = Coefficients(Confidences(output, batch), Alpha);
        if (_coefficientSum.Length != k.Length) _coefficientSum = new double[k.Length];
        for (int m = 0; m < k.Length; m++) _coefficientSum[m] += k[m];
        _batches++;
        using (no_grad())
            for (int m = 0; m < k.Length; m++)
                foreach (var parameter in fusion.EncoderParameters(m))
                {
                    var grad = parameter.grad;
                    if (grad is null) continue;
                    if (k[m] < 1) grad.mul_(k[m]);
                    if (GaussianEnhancement && grad.dim() > 1 && grad.numel() > 1)
                        grad.add_(randn_like(grad) * (grad.std() + 1e-8));   // stays on the tensor side: no host sync per parameter
                }
    }
}
