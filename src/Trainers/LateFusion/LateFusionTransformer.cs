using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Persistence;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// The fitted <see cref="LateFusionTrainer"/>: the fitted members, then the combiner. It is a row-to-row mapper
/// (PredictionEngine works) and disposes members that hold native memory.
/// </summary>
public sealed class LateFusionTransformer : ITransformer, IDisposable, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.LateFusion";
    private readonly TransformerChain<ITransformer> _chain;
    private readonly ITransformer[] _steps;
    private readonly bool _ownsMembers;

    internal LateFusionTransformer(IEnumerable<ITransformer> chain, IReadOnlyList<ITransformer> members, IReadOnlyList<string> memberNames,
        LateFusionCombiner combiner, double[]? weights, LabelKeyValues labels, IReadOnlyList<MemberCalibrationResult>? calibration = null, IReadOnlyList<string>? uninformative = null,
        bool ownsMembers = true)
    {
        _ownsMembers = ownsMembers;
        Calibration = calibration;
        UninformativeMembers = uninformative?.ToArray() ?? Array.Empty<string>();
        _steps = chain.ToArray();
        _chain = new TransformerChain<ITransformer>(_steps);
        Members = members;
        MemberNames = memberNames.ToArray();
        Combiner = combiner;
        Weights = weights;
        Labels = labels;
    }

    /// <summary>Each member's temperature and ECE before and after (with <see cref="LateFusionOptions.MemberCalibration"/>), else <c>null</c>.</summary>
    public IReadOnlyList<MemberCalibrationResult>? Calibration { get; }

    /// <summary>
    /// Members left out because their out-of-fold log-loss was no better than the class prior's
    /// (<see cref="LateFusionOptions.DropUninformativeMembers"/>); empty when every member helps (and for files of version 1).
    /// </summary>
    public IReadOnlyList<string> UninformativeMembers { get; }

    /// <summary>Every step in order: each member's input guard, the member, its probability copy, then the combiner (and stacking's meta-learner).</summary>
    public IReadOnlyList<ITransformer> Steps => _steps;

    /// <summary>The fitted members, in order.</summary>
    public IReadOnlyList<ITransformer> Members { get; }

    /// <summary>The members' names (their probabilities are in <c>Score.&lt;name&gt;</c>).</summary>
    public IReadOnlyList<string> MemberNames { get; }

    /// <summary>Each member's input column, in member order (the modality columns of this model).</summary>
    public IReadOnlyList<string> MemberFeatureColumns => _steps.OfType<MemberInputGuard>().Select(g => g.Column).ToArray();

    /// <summary>The combiner (when a registered rule of your own combines, <see cref="RegisteredRule"/> names it).</summary>
    public LateFusionCombiner Combiner { get; }

    /// <summary>The registered rule of your own that combines the members (<see cref="LateFusionOptions.Rule"/>), or <c>null</c>.</summary>
    public string? RegisteredRule => _steps.OfType<LateFusionCombinerTransformer>().LastOrDefault()?.RegisteredRule;

    /// <summary>Fitted member weights for <see cref="LateFusionCombiner.WeightedAverage"/>; for the average, product of experts and vote the 0/1 mask of the members kept when some were left out (<see cref="UninformativeMembers"/>); else <c>null</c>.</summary>
    public IReadOnlyList<double>? Weights { get; }

    /// <summary>The classes and their key values.</summary>
    public LabelKeyValues Labels { get; }

    /// <inheritdoc />
    public bool IsRowToRowMapper => ((ITransformer)_chain).IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(inputSchema);

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)_chain).GetRowToRowMapper(inputSchema);

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => _chain.Transform(input);

    /// <summary>Not supported: ML.NET (5 and 6) keeps <see cref="ModelSaveContext"/> internal; use <c>mlContext.Model.SaveFusionModel</c>.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(
        "LateFusionTransformer cannot be saved with mlContext.Model.Save: ML.NET (5 and 6) does not let third-party transformers write to its model format." +
        Environment.NewLine + "Hint: save the pipeline with mlContext.Model.SaveFusionModel and load it with mlContext.Model.LoadFusionModel.");

    string IFusionSaveable.ComponentKind => Kind;

    void IFusionSaveable.Save(ComponentWriter writer)
    {
        var memberSteps = Members.Select(m => Array.IndexOf(_steps, m)).ToArray();
        // Version 2 adds UninformativeMembers (and average, product and vote may carry a 0/1 member mask in Weights).
        writer.WriteConfig(new LateFusionConfig(MemberNames.ToArray(), memberSteps, Combiner, Weights?.ToArray(), Labels.ToData(), Calibration?.ToArray(), UninformativeMembers.ToArray()));
        foreach (var step in _steps) writer.WriteChild(step);
    }

    internal static LateFusionTransformer Load(ComponentReader reader)
    {
        var c = reader.ReadConfig<LateFusionConfig>();
        if (c.MemberNames.Length != c.MemberSteps.Length || c.MemberSteps.Any(i => i < 0 || i >= reader.ChildCount))
            throw reader.Invalid("its member list does not match its steps");
        if (c.Weights != null && c.Weights.Length != c.MemberNames.Length) throw reader.Invalid("its weights do not match its members");
        var steps = Enumerable.Range(0, reader.ChildCount).Select(reader.ReadChild).ToArray();
        if (c.Calibration != null && c.Calibration.Length != c.MemberNames.Length) throw reader.Invalid("its calibration does not match its members");
        if (c.Uninformative != null && c.Uninformative.Any(n => !c.MemberNames.Contains(n))) throw reader.Invalid("it leaves out a member it does not have");
        return new LateFusionTransformer(steps, c.MemberSteps.Select(i => steps[i]).ToArray(), c.MemberNames, c.Combiner, c.Weights,
            LabelKeyValues.FromData(c.Labels), c.Calibration, reader.Version >= 2 ? c.Uninformative : null);
    }

    /// <summary>Disposes members that hold native memory (members shared with other fits belong to their <see cref="SharedMemberFits"/>).</summary>
    public void Dispose()
    {
        foreach (var t in _chain)
            if (_ownsMembers || !Members.Contains(t)) (t as IDisposable)?.Dispose();
    }
}

/// <summary>The saved configuration of a <see cref="LateFusionTransformer"/>; its steps are the component's children.</summary>
internal sealed record LateFusionConfig(string[] MemberNames, int[] MemberSteps, LateFusionCombiner Combiner, double[]? Weights, LabelKeyValuesData Labels,
    MemberCalibrationResult[]? Calibration = null, string[]? Uninformative = null);
