using MLNetFusion.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>Mean and standard deviation of one modality's input over present training rows.</summary>
/// <param name="Mean">Per-feature mean.</param>
/// <param name="Std">Per-feature standard deviation.</param>
/// <param name="ScalarMean">Mean over all features.</param>
/// <param name="ScalarStd">Standard deviation over all features.</param>
public sealed record FeatureStatistics(float[] Mean, float[] Std, float ScalarMean, float ScalarStd)
{
    /// <summary>Computes statistics for every modality in one pass over <paramref name="source"/>.</summary>
    internal static FeatureStatistics[] Compute(ITensorDataSource source, IReadOnlyList<int> sizes)
    {
        int m = sizes.Count;
        var sum = sizes.Select(s => new double[s]).ToArray();
        var sumSq = sizes.Select(s => new double[s]).ToArray();
        var count = new double[m];
        if (source is InMemoryTensorSource cached)
        {
            var moments = cached.Moments();
            for (int i = 0; i < m; i++) { sum[i] = moments[i].sum; sumSq[i] = moments[i].sumSq; count[i] = moments[i].count; }
        }
        else
        using (no_grad())
        {
            foreach (var batch in source.Batches(1024, null))
            {
                using var owned = batch;
                using var scope = NewDisposeScope();
                for (int i = 0; i < m; i++)
                {
                    var x = batch.Features[i].to_type(torch.ScalarType.Float64);
                    var p = batch.Present[i].to_type(torch.ScalarType.Float64).unsqueeze(1);
                    var s = (x * p).sum(0L).data<double>().ToArray();
                    var s2 = (x * x * p).sum(0L).data<double>().ToArray();
                    for (int j = 0; j < s.Length; j++) { sum[i][j] += s[j]; sumSq[i][j] += s2[j]; }
                    count[i] += p.sum().item<double>();
                }
            }
        }
        var result = new FeatureStatistics[m];
        for (int i = 0; i < m; i++)
        {
            double n = Math.Max(1, count[i]);
            var mean = new float[sizes[i]]; var std = new float[sizes[i]];
            double tot = 0, tot2 = 0;
            for (int j = 0; j < sizes[i]; j++)
            {
                double mu = sum[i][j] / n;
                mean[j] = (float)mu;
                std[j] = (float)Math.Sqrt(Math.Max(0, sumSq[i][j] / n - mu * mu));
                tot += sum[i][j]; tot2 += sumSq[i][j];
            }
            double nAll = n * sizes[i];
            double gm = tot / nAll;
            result[i] = new FeatureStatistics(mean, std, (float)gm, (float)Math.Sqrt(Math.Max(1e-12, tot2 / nAll - gm * gm)));
        }
        return result;
    }
}
