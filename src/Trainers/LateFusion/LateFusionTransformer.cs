using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// The fitted <see cref="LateFusionTrainer"/>: the fitted members, then the combiner. It is a row-to-row mapper
/// (PredictionEngine works) and disposes members that hold native memory.
/// </summary>
public sealed class LateFusionTransformer : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> _chain;

    internal LateFusionTransformer(IEnumerable<ITransformer> chain, IReadOnlyList<ITransformer> members, IReadOnlyList<LateFusionMember> definitions,
        LateFusionCombiner combiner, double[]? weights, LabelKeyValues labels)
    {
        _chain = new TransformerChain<ITransformer>(chain.ToArray());
        Members = members;
        MemberNames = definitions.Select(d => d.Name).ToArray();
        Combiner = combiner;
        Weights = weights;
        Labels = labels;
    }

    /// <summary>The fitted members, in order.</summary>
    public IReadOnlyList<ITransformer> Members { get; }

    /// <summary>The members' names (their probabilities are in <c>Score.&lt;name&gt;</c>).</summary>
    public IReadOnlyList<string> MemberNames { get; }

    /// <summary>The combiner.</summary>
    public LateFusionCombiner Combiner { get; }

    /// <summary>Fitted member weights for <see cref="LateFusionCombiner.WeightedAverage"/>, else <c>null</c>.</summary>
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

    /// <summary>Not supported: ML.NET 5 keeps <see cref="ModelSaveContext"/> internal (see the README's persistence note).</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(
        "LateFusionTransformer cannot be saved with mlContext.Model.Save: ML.NET 5 does not let third-party transformers write to its model format.");

    /// <summary>Disposes members that hold native memory.</summary>
    public void Dispose()
    {
        foreach (var t in _chain) (t as IDisposable)?.Dispose();
    }
}
