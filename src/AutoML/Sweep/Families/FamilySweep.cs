using Microsoft.ML;
using MLNetFusion.Trainers;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>
/// What the sweep knows about one family: the parameters a configuration draws (which may depend on values already
/// chosen, e.g. epochs only for a neural learner) and how a trial's values become the family's estimator. Adding a
/// family to the sweep is one class here and one line in <see cref="FamilySweeps"/>.
/// </summary>
internal abstract class FamilySweep
{
    /// <summary>The family.</summary>
    public abstract FusionFamily Family { get; }

    /// <summary>The parameters a configuration draws, given the values <paramref name="chosen"/> so far (the modality subset excluded).</summary>
    public abstract IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen);

    /// <summary>The estimator of a trial.</summary>
    public abstract IEstimator<ITransformer> Build(TrialContext context, FusionTrialSettings settings);
}

/// <summary>The sweep definitions of the families, one line each.</summary>
internal static class FamilySweeps
{
    private static readonly FamilySweep[] All = { new EarlySweep(), new LateSweep(), new MergeSweep(), new NetworkSweep(), new CrossModalSweep(), new HybridSweep() };

    /// <summary>The sweep definition of <paramref name="family"/>.</summary>
    public static FamilySweep Of(FusionFamily family)
        => All.FirstOrDefault(f => f.Family == family) ?? throw new ArgumentOutOfRangeException(nameof(family), family, "The sweep has no definition for this family.");
}
