using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Inference;
using MLNetFusion.AutoML.Sweep;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>
/// MLNetFusion's automated-ML entry points, reached with <c>mlContext.Fusion()</c> (as AutoML's <c>mlContext.Auto()</c>):
/// the sweep (<see cref="CreateExperiment"/>) and column inference (<see cref="FusionAutoMLCatalog.InferColumns"/>).
/// </summary>
public sealed class FusionCatalog
{
    private readonly MLContext _ml;
    internal FusionCatalog(MLContext ml) => _ml = ml;

    /// <summary>Creates a sweep over fusion families and their hyperparameters (see <see cref="FusionExperiment"/>).</summary>
    public FusionExperiment CreateExperiment() => new(_ml, ((Microsoft.ML.Runtime.IHostEnvironment)_ml).Register("MLNetFusion.Sweep").Rand.Next());

    /// <summary>
    /// Runs the leaderboard on featurized rows: the plain baselines, each modality alone, every fusion family and an
    /// ensemble selected over them, with the recommended model chosen on validation rows (whole groups with a group
    /// column; by leave-one-group-out over the training rows when that is measured), never on <paramref name="test"/>. The same leaderboard <c>mlnetfusion leaderboard</c> prints.
    /// </summary>
    /// <param name="train">Featurized training rows (<see cref="ColumnInferenceResult.CreateFeaturizer"/>'s <c>WithLabel</c>).</param>
    /// <param name="test">Featurized test rows (reported only).</param>
    /// <param name="featurization">The featurization.</param>
    /// <param name="options">Options (group column, epochs, validation share, callbacks).</param>
    public MLNetFusion.AutoML.Leaderboard.LeaderboardResult CreateLeaderboard(IDataView train, IDataView test, FusionFeaturization featurization, MLNetFusion.AutoML.Leaderboard.FusionLeaderboardOptions? options = null)
        => MLNetFusion.AutoML.Leaderboard.FusionLeaderboard.Run(_ml, train, test, featurization, options);
}

/// <summary>Adds <c>mlContext.Fusion()</c>.</summary>
public static class FusionCatalogExtensions
{
    /// <summary>MLNetFusion's automated-ML entry points: the sweep and column inference.</summary>
    /// <param name="mlContext">The ML.NET context.</param>
    public static FusionCatalog Fusion(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new FusionCatalog(mlContext);
    }
}

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
