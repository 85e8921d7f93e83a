using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Inference;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>Column inference on <c>mlContext.Fusion()</c>, the multimodal counterpart of AutoML's <c>mlContext.Auto().InferColumns</c>.</summary>
public static class FusionAutoMLCatalog
{
    /// <summary>
    /// Reads a sample of <paramref name="path"/> and decides each column's role (label, group, image path, audio path,
    /// number, category, text or ignored) and the image and audio preprocessing, and says why. Edit the result's roles,
    /// then call <see cref="ColumnInferenceResult.CreateFeaturizer"/> and <see cref="ColumnInferenceResult.Load"/>.
    /// </summary>
    /// <param name="catalog"><c>mlContext.Fusion()</c>.</param>
    /// <param name="path">A CSV with a header line.</param>
    /// <param name="labelColumnName">The label column.</param>
    /// <param name="groupColumnName">The group column (speaker, site): never a feature.</param>
    /// <param name="options">Thresholds, role overrides, separator, data folder.</param>
    /// <returns>The roles and settings; errors name the file, line and column.</returns>
    public static ColumnInferenceResult InferColumns(this FusionCatalog catalog, string path, string labelColumnName = "Label", string? groupColumnName = null,
        ColumnInferenceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        options ??= new ColumnInferenceOptions();
        if (groupColumnName != null) options.GroupColumnName = groupColumnName;
        return ColumnInference.Infer(path, labelColumnName, options);
    }
}
