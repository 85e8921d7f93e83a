using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.ML;

namespace MLNetFusion.Models;

/// <summary>
/// A pretrained featurizer a library offers to column inference and the leaderboard for one kind of modality: a frozen
/// backbone computed once per row into a fixed-size column (a row without the modality gives an all-NaN row, a missing
/// modality), which the neural families then project with a trainable MLP. MLNetFusion.Pretrained registers a sentence
/// encoder for text and ResNet18 for images.
/// </summary>
public interface IPretrainedFeaturizer
{
    /// <summary>The kind of modality it featurizes (<see cref="ModalityKind.Text"/> reads a <c>String</c> column, <see cref="ModalityKind.Image"/> a loaded image).</summary>
    ModalityKind Kind { get; }

    /// <summary>What it is, for roles tables and leaderboards (for example "all-MiniLM-L6-v2 sentence embeddings").</summary>
    string Name { get; }

    /// <summary>The width of the column it writes.</summary>
    int Width { get; }

    /// <summary>
    /// <c>null</c> when it can run in this process; otherwise why not (for example weights that are not where the
    /// package puts them), which column inference reports while it keeps the trainable encoder.
    /// </summary>
    string? Unavailable { get; }

    /// <summary>The estimator that writes <paramref name="outputColumnName"/> (<c>Vector&lt;Single, Width&gt;</c>) from <paramref name="inputColumnName"/>.</summary>
    /// <param name="ml">The context.</param>
    /// <param name="outputColumnName">The column it writes.</param>
    /// <param name="inputColumnName">The column it reads.</param>
    /// <param name="progress">Called every few seconds of a long pass with the rows done by that pass and its time, or <c>null</c>.</param>
    IEstimator<ITransformer> Create(MLContext ml, string outputColumnName, string inputColumnName, Action<long, TimeSpan>? progress = null);
}

/// <summary>
/// The pretrained featurizers registered in this process, one per kind of modality. The package that ships them
/// (MLNetFusion.Pretrained, with its weights) is optional: when the application references it, it is loaded by name here
/// and registers itself; otherwise there is none, and every modality keeps its trainable encoder.
/// </summary>
public static class PretrainedFeaturizers
{
    /// <summary>The assembly that registers MLNetFusion's pretrained encoders when the application ships it.</summary>
    public const string PackageAssembly = "MLNetFusion.Pretrained";

    private static readonly ConcurrentDictionary<ModalityKind, IPretrainedFeaturizer> Registered = new();
    private static readonly Lazy<bool> Loaded = new(LoadPackage, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the featurizer column inference uses for its kind of modality (the last one registered wins).</summary>
    /// <param name="featurizer">The featurizer.</param>
    public static void Register(IPretrainedFeaturizer featurizer)
    {
        ArgumentNullException.ThrowIfNull(featurizer);
        Registered[featurizer.Kind] = featurizer;
    }

    /// <summary>The featurizer registered for <paramref name="kind"/>, or <c>null</c> when the application ships none.</summary>
    /// <param name="kind">The kind of modality.</param>
    public static IPretrainedFeaturizer? For(ModalityKind kind)
    {
        _ = Loaded.Value;
        return Registered.TryGetValue(kind, out var f) ? f : null;
    }

    /// <summary>The text featurizer (<see cref="For"/> of <see cref="ModalityKind.Text"/>), or <c>null</c>.</summary>
    public static IPretrainedFeaturizer? Text => For(ModalityKind.Text);

    /// <summary>The image featurizer (<see cref="For"/> of <see cref="ModalityKind.Image"/>), or <c>null</c>.</summary>
    public static IPretrainedFeaturizer? Image => For(ModalityKind.Image);

    private static bool LoadPackage()
    {
        try
        {
            var asm = Assembly.Load(new AssemblyName(PackageAssembly));
            RuntimeHelpers.RunModuleConstructor(asm.ManifestModule.ModuleHandle);
            return true;
        }
        catch (Exception ex) when (ex is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return false;   // not shipped: no pretrained featurizers
        }
    }
}
