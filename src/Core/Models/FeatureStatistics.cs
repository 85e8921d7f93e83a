using MLNetFusion.Data;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>Mean and standard deviation of one modality's input over present training rows.</summary>
/// <param name="Mean">Per-feature mean.</param>
/// <param name="Std">Per-feature standard deviation.</param>
/// <param name="ScalarMean">Mean over all features.</param>
/// <param name="ScalarStd">Standard deviation over all features.</param>
public sealed record FeatureStatistics(float[] Mean, float[] Std, float ScalarMean, float ScalarStd)
{
    /// <summary>A feature zero in at least this share of the present rows, and never negative, is sparse (see <see cref="SparseScale"/>).</summary>
    public const double SparseZeroShare = 0.9;

    /// <summary>
    /// Per feature: for a sparse non-negative feature (a one-hot or hashed category slot, a word's weight in a bag of
    /// words: zero in at least <see cref="SparseZeroShare"/> of the rows), the mean of its non-zero values; 0 for
    /// every other feature; <c>null</c> when not computed.
    /// </summary>
    /// <remarks>
    /// Standardising such a feature divides it by about the square root of its frequency: a zip code seen in 1 row of
    /// 300 becomes 17 where it is present, and a network's first layer then learns mostly from its rarest inputs.
    /// <see cref="ForStandardizer"/> keeps it at zero where absent and about 1 where present instead, so a one-hot (or
    /// hashed) block into an MLP's first layer is an entity embedding: each category adds its own learned vector.
    /// </remarks>
    public float[]? SparseScale { get; init; }

    /// <summary>
    /// The mean and scale an encoder standardises each feature with: <see cref="Mean"/> and <see cref="Std"/>, except that
    /// a sparse feature (<see cref="SparseScale"/>) is not centred and is divided by its typical non-zero value.
    /// </summary>
    public (float[] mean, float[] std) ForStandardizer()
    {
        if (SparseScale == null) return (Mean, Std);
        var mean = Mean.ToArray(); var std = Std.ToArray();
        for (int j = 0; j < mean.Length; j++)
            if (SparseScale[j] > 0) { mean[j] = 0; std[j] = SparseScale[j]; }
        return (mean, std);
    }

    /// <summary>Computes statistics for every modality in one pass over <paramref name="source"/>.</summary>
    internal static FeatureStatistics[] Compute(ITensorDataSource source, IReadOnlyList<int> sizes)
    {
        int m = sizes.Count;
        FeatureMoments[] moments;
        if (source is InMemoryTensorSource cached) moments = cached.Moments();
        else
        {
            moments = sizes.Select(s => new FeatureMoments(s)).ToArray();
            foreach (var batch in source.Batches(1024, null))
            {
                using var owned = batch;
                for (int i = 0; i < m; i++) moments[i].Add(batch.Features[i], batch.Present[i]);
            }
        }
        var result = new FeatureStatistics[m];
        for (int i = 0; i < m; i++)
        {
            var mo = moments[i];
            double n = Math.Max(1, mo.Count);
            var mean = new float[sizes[i]]; var std = new float[sizes[i]]; var sparse = new float[sizes[i]];
            double tot = 0, tot2 = 0;
            for (int j = 0; j < sizes[i]; j++)
            {
                double mu = mo.Sum[j] / n;
                mean[j] = (float)mu;
                std[j] = (float)Math.Sqrt(Math.Max(0, mo.SumSq[j] / n - mu * mu));
                if (mo.Count > 0 && mo.NonZero[j] > 0 && mo.Minimum[j] >= 0 && mo.Count - mo.NonZero[j] >= SparseZeroShare * mo.Count)
                    sparse[j] = (float)(mo.AbsSum[j] / mo.NonZero[j]);
                tot += mo.Sum[j]; tot2 += mo.SumSq[j];
            }
            double nAll = n * sizes[i];
            double gm = tot / nAll;
            result[i] = new FeatureStatistics(mean, std, (float)gm, (float)Math.Sqrt(Math.Max(1e-12, tot2 / nAll - gm * gm))) { SparseScale = sparse };
        }
        return result;
    }
}
