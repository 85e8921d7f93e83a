using MLNetFusion.Data;
using MLNetFusion.Models;
using static TorchSharp.torch;

namespace MLNetFusion.Training;

/// <summary>
/// Evidence-based modality selection: after training, switch off each modality whose absence lowers the held-out loss
/// consistently, so that a weak, overfitted modality cannot drag the fused model below the others.
/// </summary>
/// <remarks>
/// Backward elimination on the validation rows. The fused model was trained with modality dropout, so it predicts from
/// any subset of modalities; for each modality still in use, the per-row cross-entropy with and without it is compared.
/// The modality whose removal lowers the mean loss the most is switched off when that improvement exceeds one standard
/// error of the paired per-row differences (the one-standard-error rule: keep every modality unless the evidence is
/// clear), and the search repeats. At least one modality stays in use. The chosen set is saved with the model.
/// </remarks>
internal static class ModalitySelection
{
    /// <summary>Chooses and sets <see cref="FusionNetwork.DisabledModalities"/>; returns the flags (all false when every modality helps).</summary>
    public static bool[] Select(FusionNetwork network, ITensorDataSource validation, int batchSize, IReadOnlyList<string> names, Action<string>? log)
    {
        int count = names.Count;
        var disabled = new bool[count];
        network.DisabledModalities = null;
        if (count < 2) return disabled;
        var current = PerRowLoss(network, validation, batchSize);
        while (disabled.Count(d => !d) > 1)
        {
            int best = -1;
            double bestGain = 0;
            double[]? bestLoss = null;
            var report = new List<string>();
            for (int m = 0; m < count; m++)
            {
                if (disabled[m]) continue;
                var trial = (bool[])disabled.Clone();
                trial[m] = true;
                network.DisabledModalities = trial;
                var loss = PerRowLoss(network, validation, batchSize);
                var (gain, se) = PairedGain(current, loss);
                report.Add($"without {names[m]}: loss {loss.Average():F4} ({(gain >= 0 ? "-" : "+")}{Math.Abs(gain):F4} ± {se:F4})");
                if (gain > se && gain > bestGain) { best = m; bestGain = gain; bestLoss = loss; }
            }
            network.DisabledModalities = disabled;
            log?.Invoke($"Modality selection on {current.Length} validation rows (loss {current.Average():F4} with {string.Join(", ", names.Where((_, i) => !disabled[i]))}): {string.Join("; ", report)}.");
            if (best < 0) break;
            disabled[best] = true;
            network.DisabledModalities = disabled;
            current = bestLoss!;
            log?.Invoke($"Modality selection: '{names[best]}' is switched off; it lowered validation loss by more than one standard error when left out. It is used only for rows that have no other modality.");
        }
        return disabled;
    }

    /// <summary>Mean of <c>before − after</c> and its standard error.</summary>
    internal static (double gain, double standardError) PairedGain(IReadOnlyList<double> before, IReadOnlyList<double> after)
    {
        int n = before.Count;
        if (n < 2) return (0, double.PositiveInfinity);
        double mean = 0;
        for (int i = 0; i < n; i++) mean += before[i] - after[i];
        mean /= n;
        double ss = 0;
        for (int i = 0; i < n; i++) { double d = before[i] - after[i] - mean; ss += d * d; }
        return (mean, Math.Sqrt(ss / (n - 1) / n));
    }

    /// <summary>Per-row cross-entropy of the fused logits, in eval mode.</summary>
    private static double[] PerRowLoss(FusionNetwork network, ITensorDataSource data, int batchSize)
    {
        bool wasTraining = network.training;
        network.eval();
        var losses = new List<double>();
        var device = FusionBatch.DeviceOf(network);
        using (no_grad())
            foreach (var rows in data.Batches(batchSize, null))
            {
                using var scope = NewDisposeScope();
                using var batch = rows.To(device);
                var logits = network.Forward(batch).Logits;
                var loss = nn.functional.cross_entropy(logits, batch.Labels!, reduction: nn.Reduction.None).to_type(ScalarType.Float64).cpu();
                losses.AddRange(loss.data<double>().ToArray());
            }
        if (wasTraining) network.train();
        return losses.ToArray();
    }
}
