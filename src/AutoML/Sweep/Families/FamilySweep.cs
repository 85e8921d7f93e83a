using Microsoft.ML;
using MLNetFusion.Trainers;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>
/// What the candidate engine knows about one family: the parameters a sweep configuration draws (which may depend on
/// values already chosen, e.g. epochs only for a neural learner) and how a candidate's values become the family's
/// estimator, for the leaderboard and the sweep alike (<see cref="CandidateContext.Build"/>). Adding a family is one
/// class here and one line in <see cref="FamilySweeps"/>.
/// </summary>
internal abstract class FamilySweep
{
    /// <summary>The family.</summary>
    public abstract FusionFamily Family { get; }

    /// <summary>The parameters a configuration draws, given the values <paramref name="chosen"/> so far (the modality subset excluded).</summary>
    public abstract IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen);

    /// <summary>The estimator of a candidate; a parameter its settings leave out takes the context's value (<see cref="CandidateContext.TryValue"/>).</summary>
    public abstract IEstimator<ITransformer> Build(CandidateContext context, FusionTrialSettings settings);
}

/// <summary>The families' definitions, one line each.</summary>
internal static class FamilySweeps
{
    private static readonly FamilySweep[] All = { new EarlySweep(), new LateSweep(), new MergeSweep(), new NetworkSweep(), new CrossModalSweep(), new HybridSweep() };

    /// <summary>The definition of <paramref name="family"/>.</summary>
    public static FamilySweep Of(FusionFamily family)
        => All.FirstOrDefault(f => f.Family == family) ?? throw new ArgumentOutOfRangeException(nameof(family), family, "The sweep has no definition for this family.");
}
