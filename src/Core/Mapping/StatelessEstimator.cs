using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetFusion.Mapping;

/// <summary>
/// Base of the estimators that learn nothing (ML.NET's <c>TrivialEstimator</c>, whose base is internal): <see cref="Fit"/>
/// builds the transformer from the input schema alone and checks that the transformer accepts it.
/// </summary>
/// <typeparam name="TTransformer">The transformer.</typeparam>
public abstract class StatelessEstimator<TTransformer> : IEstimator<TTransformer> where TTransformer : class, ITransformer
{
    /// <summary>Creates the estimator.</summary>
    /// <param name="env">The ML.NET environment (an <see cref="MLContext"/>).</param>
    /// <param name="name">The component's name in logs.</param>
    protected StatelessEstimator(IHostEnvironment env, string name)
    {
        ArgumentNullException.ThrowIfNull(env);
        Host = env.Register(name);
    }

    /// <summary>The component's host (log, seed, cancellation).</summary>
    protected IHost Host { get; }

    /// <summary>Builds the transformer for data of <paramref name="inputSchema"/>.</summary>
    protected abstract TTransformer Create(DataViewSchema inputSchema);

    /// <inheritdoc />
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = Create(input.Schema);
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <inheritdoc />
    public abstract SchemaShape GetOutputSchema(SchemaShape inputSchema);
}
