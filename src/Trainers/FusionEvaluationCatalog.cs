using System.Collections.Immutable;
using Microsoft.ML.Data;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Evaluation;
using MLNetFusion.Trainers.LateFusion;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>
/// MLNetFusion's evaluation entry points on <c>mlContext.MulticlassClassification</c>: what each modality contributes.
/// Sample: <c>src/Samples/ModalityReportSample.cs</c>; command line: <c>mlnetfusion evaluate</c>.
/// </summary>
public static class FusionEvaluationCatalog
{
    /// <summary>
    /// The modality report of a fitted multimodal model on <paramref name="data"/>: metrics for every non-empty subset of
    /// modalities (the others hidden as missing), each modality's importance (the drop when it is hidden, and when its
    /// values are shuffled across rows: permutation feature importance at modality level, with a standard deviation),
    /// calibration (ECE and the reliability diagram) and, with a group column, metrics per group with the worst group.
    /// </summary>
    /// <param name="catalog">The multiclass catalog.</param>
    /// <param name="model">Any fitted model: a neural fusion model, late fusion, or a chain holding featurization and a trainer.</param>
    /// <param name="data">Labelled data, as the model reads it (e.g. the test split).</param>
    /// <param name="labelColumnName">Key-typed label column (at the model's output).</param>
    /// <param name="groupColumnName">Optional column of <paramref name="data"/> naming each row's group (speaker, site).</param>
    /// <param name="modalityColumnNames">The modality columns; <c>null</c> uses the fusion transformer's own (required for early fusion).</param>
    /// <param name="permutationCount">Shuffles per modality.</param>
    /// <returns>The report.</returns>
    public static ModalityReport EvaluateModalities(this MulticlassClassificationCatalog catalog, ITransformer model, IDataView data,
        string labelColumnName = "Label", string? groupColumnName = null, IReadOnlyList<string>? modalityColumnNames = null,
        int permutationCount = ModalityReportOptions.Defaults.PermutationCount)
        => catalog.EvaluateModalities(model, data, new ModalityReportOptions
        {
            LabelColumnName = labelColumnName, GroupColumnName = groupColumnName, ModalityColumnNames = modalityColumnNames, PermutationCount = permutationCount,
        });

    /// <summary>The modality report with all options; see the short overload.</summary>
    /// <param name="catalog">The multiclass catalog.</param>
    /// <param name="model">Any fitted model.</param>
    /// <param name="data">Labelled data.</param>
    /// <param name="options">The options.</param>
    public static ModalityReport EvaluateModalities(this MulticlassClassificationCatalog catalog, ITransformer model, IDataView data, ModalityReportOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return ModalityEvaluator.Evaluate(model, data, options);
    }

    private const string PfiMessage =
        "ML.NET's PermutationFeatureImportance permutes the slots of one feature column, but a fusion model reads one column per modality." +
        "\nHint: use mlContext.MulticlassClassification.EvaluateModalities(model, data): its Importance is permutation importance per modality " +
        "(with a standard deviation over PermutationCount shuffles), next to the drop when each modality is hidden.";

    /// <summary>Not supported for fusion models: throws, pointing to <see cref="EvaluateModalities(MulticlassClassificationCatalog, ITransformer, IDataView, ModalityReportOptions)"/>.</summary>
    [Obsolete(PfiMessage)]
    public static ImmutableDictionary<string, MulticlassClassificationMetricsStatistics> PermutationFeatureImportance(this MulticlassClassificationCatalog catalog,
        FusionPredictionTransformer model, IDataView data, string labelColumnName = "Label", bool useFeatureWeightFilter = false, int? numberOfExamplesToUse = null, int permutationCount = 1)
        => throw new NotSupportedException(PfiMessage.Replace("\n", Environment.NewLine));

    /// <summary>Not supported for fusion models: throws, pointing to the modality report.</summary>
    [Obsolete(PfiMessage)]
    public static ImmutableDictionary<string, MulticlassClassificationMetricsStatistics> PermutationFeatureImportance(this MulticlassClassificationCatalog catalog,
        LateFusionTransformer model, IDataView data, string labelColumnName = "Label", bool useFeatureWeightFilter = false, int? numberOfExamplesToUse = null, int permutationCount = 1)
        => throw new NotSupportedException(PfiMessage.Replace("\n", Environment.NewLine));

    /// <summary>Not supported for fusion models: throws, pointing to the modality report.</summary>
    [Obsolete(PfiMessage)]
    public static ImmutableDictionary<string, MulticlassClassificationMetricsStatistics> PermutationFeatureImportance(this MulticlassClassificationCatalog catalog,
        TransformerChain<FusionPredictionTransformer> model, IDataView data, string labelColumnName = "Label", bool useFeatureWeightFilter = false, int? numberOfExamplesToUse = null, int permutationCount = 1)
        => throw new NotSupportedException(PfiMessage.Replace("\n", Environment.NewLine));

    /// <summary>Not supported for fusion models: throws, pointing to the modality report.</summary>
    [Obsolete(PfiMessage)]
    public static ImmutableDictionary<string, MulticlassClassificationMetricsStatistics> PermutationFeatureImportance(this MulticlassClassificationCatalog catalog,
        TransformerChain<LateFusionTransformer> model, IDataView data, string labelColumnName = "Label", bool useFeatureWeightFilter = false, int? numberOfExamplesToUse = null, int permutationCount = 1)
        => throw new NotSupportedException(PfiMessage.Replace("\n", Environment.NewLine));
}
