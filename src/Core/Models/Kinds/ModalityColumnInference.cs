using Microsoft.ML;

namespace MLNetFusion.Models;

/// <summary>
/// How column inference (<c>mlContext.Fusion().InferColumns</c>) recognises a CSV column of a modality kind and
/// featurizes it. A kind a library registers implements this and returns it from
/// <see cref="IModalityKind.ColumnInference"/>; inference then gives such columns the role <c>Modality</c> with that kind.
/// </summary>
/// <remarks>
/// Recognisers of registered kinds run after the user's roles, the label and group columns, and the empty and constant
/// checks, and before the built-in rules (numbers, categories, text); kinds are asked in the order of their names and
/// the first that recognises a column takes it.
/// </remarks>
public interface IModalityColumnInference
{
    /// <summary>
    /// Whether a column holds this kind: a reason the user can read ("64 numbers per row: a time series") when it does,
    /// else <c>null</c>.
    /// </summary>
    /// <param name="columnName">The column's name in the CSV header.</param>
    /// <param name="values">The column's sampled values, trimmed; empty values are missing ones.</param>
    string? Recognize(string columnName, IReadOnlyList<string> values);

    /// <summary>
    /// The ML.NET chain from the loaded text column (<see cref="ModalityColumnContext.InputColumnName"/>) to the modality
    /// column (<see cref="ModalityColumnContext.OutputColumnName"/>), and the modality options the trainers read. The
    /// chain is saved in the model file like the rest of the featurizer, so it must support <c>mlContext.Model.Save</c>
    /// (ML.NET's transforms, or a <c>CustomMapping</c> whose factory the loading application registers).
    /// </summary>
    ModalityFeaturization Featurize(MLContext mlContext, ModalityColumnContext column);
}

/// <summary>A column inference gave to a registered modality kind (see <see cref="IModalityColumnInference.Featurize"/>).</summary>
/// <param name="InputColumnName">The CSV column, loaded as text.</param>
/// <param name="OutputColumnName">Where the modality's values go (the column the encoder reads).</param>
/// <param name="DataFolder">The folder relative paths in the CSV are resolved against.</param>
/// <param name="SampledValues">The column's sampled values, trimmed (for settings such as a length).</param>
public sealed record ModalityColumnContext(string InputColumnName, string OutputColumnName, string DataFolder, IReadOnlyList<string> SampledValues);

/// <summary>A registered kind's featurization of one column.</summary>
/// <param name="Chain">The estimators from the text column to the modality column.</param>
/// <param name="Modality">The modality options the fusion trainers read (its <see cref="ModalityOptions.Kind"/> is the kind's).</param>
public sealed record ModalityFeaturization(IEstimator<ITransformer> Chain, ModalityOptions Modality);
