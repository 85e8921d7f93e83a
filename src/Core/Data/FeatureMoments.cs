using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Data;

/// <summary>
/// Per-feature sums over the present rows of one modality: what <see cref="Models.FeatureStatistics"/> needs, accumulated
/// batch by batch or over the cached tensors in one pass by the same code.
/// </summary>
internal sealed class FeatureMoments
{
    public FeatureMoments(int size)
    {
        Sum = new double[size]; SumSq = new double[size]; NonZero = new double[size]; AbsSum = new double[size];
        Minimum = Enumerable.Repeat(double.PositiveInfinity, size).ToArray();
    }

    public double[] Sum { get; }
    public double[] SumSq { get; }
    /// <summary>Present rows where the feature is not zero.</summary>
    public double[] NonZero { get; }
    /// <summary>Sum of the feature's absolute values.</summary>
    public double[] AbsSum { get; }
    public double[] Minimum { get; }
    /// <summary>Present rows.</summary>
    public double Count { get; private set; }

    /// <summary>Adds the rows of <paramref name="features"/> (<c>[B, size]</c>) where <paramref name="present"/> (<c>[B]</c>) is set.</summary>
    public void Add(Tensor features, Tensor present)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var mask = present.to_type(ScalarType.Bool);
        var x = features.to_type(ScalarType.Float64).index_select(0, mask.nonzero().squeeze(1));
        long rows = x.shape[0];
        if (rows == 0) return;
        Accumulate(Sum, x.sum(0L));
        Accumulate(SumSq, (x * x).sum(0L));
        Accumulate(NonZero, x.ne(0).to_type(ScalarType.Float64).sum(0L));
        Accumulate(AbsSum, x.abs().sum(0L));
        var min = x.amin(new long[] { 0 }).data<double>().ToArray();
        for (int j = 0; j < min.Length; j++) Minimum[j] = Math.Min(Minimum[j], min[j]);
        Count += rows;
    }

    private static void Accumulate(double[] into, Tensor values)
    {
        var v = values.data<double>().ToArray();
        for (int j = 0; j < v.Length; j++) into[j] += v[j];
    }
}
