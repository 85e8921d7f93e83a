using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>What a combiner learns from: the out-of-fold data (when any was made), which members are informative, the options.</summary>
/// <param name="OutOfFold">Out-of-fold member probabilities, or <c>null</c> when no combiner, calibration or member check needed them.</param>
/// <param name="Informative">Per member, whether it beats the class prior out of fold, or <c>null</c> when not checked.</param>
/// <param name="Classes">Number of classes.</param>
/// <param name="Options">The trainer's options.</param>
/// <param name="Channel">Where the combiner reports what it chose.</param>
internal sealed record CombinerFitContext(OutOfFoldData? OutOfFold, bool[]? Informative, int Classes, LateFusionOptions Options, IChannel Channel)
{
    /// <summary>The folds' unit in messages.</summary>
    public string HeldOut => Options.SamplingKeyColumnName != null ? "groups" : "folds";
}

/// <summary>What a combiner fitted: member weights (or a 0/1 mask of the members kept), and stacking's meta-learner with its blend.</summary>
internal sealed record CombinerFit(double[]? Weights, ITransformer? Meta = null, double Blend = 0);

/// <summary>The columns the combining transformers read and write.</summary>
/// <param name="Scores">Each member's probability column.</param>
/// <param name="Presence">Each member's presence column.</param>
/// <param name="Labels">The label's key values.</param>
/// <param name="Classes">Number of classes.</param>
/// <param name="Options">The trainer's options (output and meta-feature column names).</param>
internal sealed record CombinerColumns(string[] Scores, string[] Presence, LabelKeyValues Labels, int Classes, LateFusionOptions Options);

/// <summary>
/// One late-fusion combiner: whether it learns from out-of-fold data, how it fits on it, and the transformers that
/// combine the members' probabilities at inference. <see cref="LateFusionTrainer"/> fits members and cross-fits; a
/// combiner never fits a member.
/// </summary>
internal interface ICombinerRule
{
    /// <summary>Whether <see cref="Fit"/> needs out-of-fold data.</summary>
    bool NeedsOutOfFold { get; }

    /// <summary>Whether a member no better than the class prior can be left out (a 0/1 weight); stacking learns its own use of each member.</summary>
    bool LeavesOutUninformative { get; }

    /// <summary>Fits the combiner.</summary>
    CombinerFit Fit(CombinerFitContext context);

    /// <summary>The transformers that turn the members' probability columns into <c>Score</c> and <c>PredictedLabel</c>.</summary>
    IEnumerable<ITransformer> CreateTransformers(CombinerFit fit, CombinerColumns columns);
}

/// <summary>The rule of each <see cref="LateFusionCombiner"/>.</summary>
internal static class CombinerRules
{
    /// <summary>The rule of <paramref name="options"/>: its own registered <see cref="LateFusionOptions.Rule"/>, else its <see cref="LateFusionOptions.Combiner"/>'s.</summary>
    public static ICombinerRule For(LateFusionOptions options) => options.Rule is { } own ? new FixedRule(LateFusionCombiner.Average, own.Name) : For(options.Combiner);

    /// <summary>The rule for <paramref name="combiner"/>.</summary>
    public static ICombinerRule For(LateFusionCombiner combiner) => combiner switch
    {
        LateFusionCombiner.WeightedAverage => new WeightedAverageRule(),
        LateFusionCombiner.Stacking => new StackingRule(),
        LateFusionCombiner.Average or LateFusionCombiner.ProductOfExperts or LateFusionCombiner.MajorityVote => new FixedRule(combiner),
        _ => throw new ArgumentOutOfRangeException(nameof(combiner), combiner, "Unknown late-fusion combiner."),
    };

    /// <summary>The one combining transformer of the rules without a meta-learner.</summary>
    internal static ITransformer Combine(CombinerColumns c, LateFusionCombiner combiner, double[]? weights, string? registeredRule = null)
        => new LateFusionCombinerTransformer(c.Scores, c.Presence, c.Labels, combiner, weights, null, c.Options.ScoreColumnName, c.Options.PredictedLabelColumnName, registeredRule);
}

/// <summary>
/// Average, product of experts, majority vote and a registered rule of the application's own (<paramref name="registeredRule"/>):
/// nothing is fitted, but members no better than the class prior are left out.
/// </summary>
internal sealed class FixedRule(LateFusionCombiner combiner, string? registeredRule = null) : ICombinerRule
{
    /// <inheritdoc />
    public bool NeedsOutOfFold => false;

    /// <inheritdoc />
    public bool LeavesOutUninformative => true;

    /// <inheritdoc />
    public CombinerFit Fit(CombinerFitContext context)
        => new(context.Informative is { } informative && informative.Any(i => !i) ? informative.Select(i => i ? 1.0 : 0.0).ToArray() : null);

    /// <inheritdoc />
    public IEnumerable<ITransformer> CreateTransformers(CombinerFit fit, CombinerColumns columns)
        => new[] { CombinerRules.Combine(columns, combiner, fit.Weights, registeredRule) };
}
