using MLNetFusion.Trainers.Sweep;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>MLNetFusion's entry points that span families, reached with <c>mlContext.Fusion()</c> (as AutoML's <c>mlContext.Auto()</c>).</summary>
public sealed class FusionCatalog
{
    private readonly MLContext _ml;
    internal FusionCatalog(MLContext ml) => _ml = ml;

    /// <summary>Creates a sweep over fusion families and their hyperparameters (see <see cref="FusionExperiment"/>).</summary>
    public FusionExperiment CreateExperiment() => new(_ml, ((Microsoft.ML.Runtime.IHostEnvironment)_ml).Register("MLNetFusion.Sweep").Rand.Next());
}

/// <summary>Adds <c>mlContext.Fusion()</c>.</summary>
public static class FusionCatalogExtensions
{
    /// <summary>MLNetFusion's cross-family entry points (the sweep).</summary>
    public static FusionCatalog Fusion(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new FusionCatalog(mlContext);
    }
}
