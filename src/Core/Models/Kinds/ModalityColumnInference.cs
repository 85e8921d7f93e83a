using Microsoft.ML;

namespace MLNetFusion.Models;

/// <summary>
/// How column inference (<c>mlContext.Fusion().InferColumns</c>) recognises a CSV column of a modality kind and
/// featurizes it. A kind implements this and returns it from <see cref="IModalityKind.ColumnInference"/>; inference then
/// gives such columns the role <c>Modality</c> with that kind. The built-in image and audio kinds use this interface too.
/// </summary>
/// <remarks>
/// Recognisers run after the user's roles, the label and group columns, and the empty and constant checks, and before
/// the tabular and text rules (numbers, categories, text); kinds are asked in the order of their names and the first
/// that recognises a column takes it. Then, per column: <see cref="InferSettings"/> (once, checking the first files),
/// <see cref="EncoderNote"/> (for the roles table), and, when the featurizer is built, <see cref="Featurize"/>.
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
    /// The kind's own inference settings at their defaults (an image's largest side), which
    /// <c>ColumnInferenceOptions.For&lt;T&gt;(kind)</c> gives the user to edit; <c>null</c> (the default) when it has none.
    /// </summary>
    ModalityColumnInferenceOptions? CreateOptions() => null;

    /// <summary>
    /// The preprocessing settings decided from the column's first values (an image's size and colour, a clip's rate and
    /// length), after checking that they can be read (<see cref="ModalityColumnContext.FilesToCheck"/>); the user may edit
    /// them before the featurizer is built. <c>null</c> (the default) for a kind that needs none.
    /// </summary>
    /// <exception cref="InvalidDataException">A value cannot be read; the message names the CSV line, the column and the file.</exception>
    ModalityColumnSettings? InferSettings(ModalityColumnContext column) => null;

    /// <summary>
    /// The modality column written for <paramref name="inputColumnName"/> when the featurization has
    /// <paramref name="columnsOfKind"/> columns of this kind, or <c>null</c> (the default) for <c>&lt;column&gt;.&lt;kind&gt;</c>.
    /// </summary>
    string? OutputColumnName(string inputColumnName, int columnsOfKind) => null;

    /// <summary>The encoder the column will get and why, for the roles table (for example "a CNN trained from scratch"), or <c>null</c>.</summary>
    string? EncoderNote(ModalityColumnContext column) => null;

    /// <summary>
    /// The ML.NET chain from the loaded text column (<see cref="ModalityColumnContext.InputColumnName"/>) to the modality
    /// column (<see cref="ModalityColumnContext.OutputColumnName"/>), and the modality options the trainers read. The
    /// chain is saved in the model file like the rest of the featurizer, so it must support <c>mlContext.Model.Save</c>
    /// (ML.NET's transforms, or a <c>CustomMapping</c> whose factory the loading application registers).
    /// </summary>
    ModalityFeaturization Featurize(MLContext mlContext, ModalityColumnContext column);
}

/// <summary>A kind's inference settings the user can change (see <see cref="IModalityColumnInference.CreateOptions"/>).</summary>
public abstract class ModalityColumnInferenceOptions
{
    /// <summary>Checks the settings; throws <see cref="ArgumentOutOfRangeException"/> naming the setting.</summary>
    public virtual void Validate() { }

    /// <summary>A copy (shallow: override when a setting is a mutable reference).</summary>
    public virtual ModalityColumnInferenceOptions Clone() => (ModalityColumnInferenceOptions)MemberwiseClone();
}

/// <summary>The preprocessing settings a kind inferred for one column (see <see cref="IModalityColumnInference.InferSettings"/>).</summary>
public abstract record ModalityColumnSettings
{
    /// <summary>What they are, for the roles table (for example "resized to 28×28, gray (20 files decoded)").</summary>
    public abstract string Summary { get; }
}

/// <summary>A column inference gave to a modality kind (see <see cref="IModalityColumnInference.Featurize"/>).</summary>
/// <param name="InputColumnName">The CSV column, loaded as text.</param>
/// <param name="OutputColumnName">Where the modality's values go (the column the encoder reads).</param>
/// <param name="DataFolder">The folder relative paths in the CSV are resolved against.</param>
/// <param name="SampledValues">The column's sampled values, trimmed (for settings such as a length).</param>
public sealed record ModalityColumnContext(string InputColumnName, string OutputColumnName, string DataFolder, IReadOnlyList<string> SampledValues)
{
    /// <summary>The CSV file, for messages.</summary>
    public string SourcePath { get; init; } = "";
    /// <summary>The line of the CSV each of <see cref="SampledValues"/> comes from (1 is the header), for messages; empty when unknown.</summary>
    public IReadOnlyList<int> SampledLineNumbers { get; init; } = Array.Empty<int>();
    /// <summary>How many of the first values <see cref="FilesToCheck"/> gives (files to decode to check them and decide settings).</summary>
    public int FilesToDecode { get; init; } = 20;
    /// <summary>The kind's inference settings (<see cref="IModalityColumnInference.CreateOptions"/>, as the user edited them), or <c>null</c>.</summary>
    public ModalityColumnInferenceOptions? Options { get; init; }
    /// <summary>The column's settings (<see cref="IModalityColumnInference.InferSettings"/>, as the user edited them), or <c>null</c>.</summary>
    public ModalityColumnSettings? Settings { get; init; }
    /// <summary>Whether the column may use the pretrained featurizer registered for its kind (<see cref="PretrainedFeaturizers"/>).</summary>
    public bool UsePretrained { get; init; }
    /// <summary>Called every few seconds while a pretrained featurizer embeds rows (what it computes, rows done, time), or <c>null</c>.</summary>
    public Action<string, long, TimeSpan>? PretrainedProgress { get; init; }

    /// <summary>The kind's options as <typeparamref name="T"/>: the given ones, or <paramref name="defaults"/>.</summary>
    public T OptionsAs<T>(Func<T> defaults) where T : ModalityColumnInferenceOptions => Options as T ?? defaults();

    /// <summary>The column's settings as <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidOperationException">There are none, or of another type.</exception>
    public T SettingsAs<T>() where T : ModalityColumnSettings => Settings as T
        ?? throw new InvalidOperationException($"Column '{InputColumnName}' has {(Settings == null ? "no settings" : $"settings of type {Settings.GetType().Name}")}, not {typeof(T).Name}." +
            Environment.NewLine + "Hint: keep the settings inference gave the column (ColumnInferenceResult.Settings), or replace them with the same type.");

    /// <summary>
    /// The first <see cref="FilesToDecode"/> non-empty values with their CSV lines, to check and to decide settings from.
    /// </summary>
    /// <exception cref="InvalidDataException">The sample has no non-empty value.</exception>
    public IReadOnlyList<(string value, int line)> FilesToCheck()
    {
        var files = new List<(string, int)>();
        for (int i = 0; i < SampledValues.Count && files.Count < FilesToDecode; i++)
            if (SampledValues[i].Length > 0) files.Add((SampledValues[i], i < SampledLineNumbers.Count ? SampledLineNumbers[i] : 0));
        if (files.Count == 0)
            throw new InvalidDataException($"Column '{InputColumnName}' of '{SourcePath}' has no paths in the {SampledValues.Count} sampled rows." + Environment.NewLine +
                "Hint: give the column file paths, or mark it Ignored.");
        return files;
    }

    /// <summary>The full path of a file the column names, checked to exist.</summary>
    /// <param name="value">The value in the CSV (absolute, or relative to <see cref="DataFolder"/>).</param>
    /// <param name="line">Its CSV line.</param>
    /// <param name="format">The file's format, for messages ("image", "WAV").</param>
    /// <exception cref="FileNotFoundException">No such file; the message names the line, column and path.</exception>
    /// <exception cref="InvalidDataException">The path is a folder.</exception>
    public string ResolveFile(string value, int line, string format)
    {
        var full = Path.IsPathRooted(value) ? value : Path.GetFullPath(Path.Combine(DataFolder, value));
        if (Directory.Exists(full))
            throw new InvalidDataException($"{Where(line)}: '{value}' is a directory, not a file." + Environment.NewLine +
                $"Hint: the column must hold one {format} file path per row.");
        if (!File.Exists(full))
            throw new FileNotFoundException($"{Where(line)}: {format} file '{value}' does not exist (looked for '{full}')." + Environment.NewLine +
                "Hint: relative paths are resolved against the CSV's folder; pass the folder that holds the files (DataFolder / --data-folder).", full);
        return full;
    }

    /// <summary>Decodes a file, turning any decoder failure into an error naming the CSV line, column and file.</summary>
    /// <param name="decode">The decoder.</param>
    /// <param name="value">The value in the CSV.</param>
    /// <param name="line">Its CSV line.</param>
    /// <param name="format">The format's name ("WAV", "image").</param>
    /// <param name="hint">How to fix an undecodable file.</param>
    public T Decode<T>(Func<T> decode, string value, int line, string format, string hint)
    {
        ArgumentNullException.ThrowIfNull(decode);
        try { return decode(); }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{Where(line)}: {format} file '{value}' does not decode ({ex.Message})." + Environment.NewLine + "Hint: " + hint, ex);
        }
    }

    /// <summary>"Line 12 of 'train.csv', column 'Photo'", for messages.</summary>
    public string Where(int line) => $"Line {line} of '{SourcePath}', column '{InputColumnName}'";
}

/// <summary>A kind's featurization of one column.</summary>
/// <param name="Chain">The estimators from the text column to the modality column.</param>
/// <param name="Modality">The modality options the fusion trainers read (its <see cref="ModalityOptions.Kind"/> is the kind's).</param>
public sealed record ModalityFeaturization(IEstimator<ITransformer> Chain, ModalityOptions Modality)
{
    /// <summary>
    /// When the chain runs a pretrained featurizer, the column of its embeddings with 0 for a missing value, which linear
    /// and dense models read instead of <see cref="ModalityOptions.FeaturesColumn"/> (the plain baselines keep that); else <c>null</c>.
    /// </summary>
    public string? PretrainedFeaturesColumnName { get; init; }
    /// <summary>The pretrained featurizer's name (<see cref="IPretrainedFeaturizer.Name"/>) when the chain runs one, else <c>null</c>.</summary>
    public string? PretrainedEncoderName { get; init; }
}

/// <summary>
/// The column inference of the built-in image and audio kinds, which MLNetFusion.AutoML supplies when it loads (it
/// decodes files with ML.NET's image loader and MLNetFusion's WAV reader, which this assembly does not reference).
/// </summary>
internal static class BuiltInColumnInference
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<ModalityKind, IModalityColumnInference> Inference = new();

    internal static void Set(ModalityKind kind, IModalityColumnInference inference) => Inference[kind] = inference;

    internal static IModalityColumnInference? Get(ModalityKind kind) => Inference.TryGetValue(kind, out var i) ? i : null;
}
