using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.ML;

namespace MLNetFusion.Models;

/// <summary>
/// A pretrained text featurizer a library offers to column inference and the leaderboard: a frozen backbone computed
/// once per row into a fixed-size column (an empty text gives an all-NaN row, a missing modality), which the neural
/// families then project with a trainable MLP. MLNetFusion.Pretrained registers its sentence encoder.
/// </summary>
public interface IPretrainedTextFeaturizer
{
    /// <summary>What it is, for roles tables and leaderboards (for example "all-MiniLM-L6-v2 sentence embeddings").</summary>
    string Name { get; }

    /// <summary>The width of the column it writes.</summary>
    int Width { get; }

    /// <summary>The estimator that writes <paramref name="outputColumnName"/> (<c>Vector&lt;Single, Width&gt;</c>) from the text column <paramref name="inputColumnName"/>.</summary>
    IEstimator<ITransformer> Create(MLContext ml, string outputColumnName, string inputColumnName);
}

/// <summary>
/// The pretrained featurizers registered in this process. The package that ships the weights (MLNetFusion.Pretrained,
/// 91 MB) is optional: when the application references it, it is loaded by name here and registers itself; otherwise
/// there is none, and text keeps the trainable hashed-word encoder.
/// </summary>
public static class PretrainedFeaturizers
{
    /// <summary>The assembly that registers MLNetFusion's pretrained encoders when the application ships it.</summary>
    public const string PackageAssembly = "MLNetFusion.Pretrained";

    private static IPretrainedTextFeaturizer? _text;
    private static readonly Lazy<bool> Loaded = new(LoadPackage, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the text featurizer column inference uses (the last one registered wins).</summary>
    /// <param name="featurizer">The featurizer.</param>
    public static void RegisterText(IPretrainedTextFeaturizer featurizer) => _text = featurizer ?? throw new ArgumentNullException(nameof(featurizer));

    /// <summary>The registered text featurizer, or <c>null</c> when the application ships none.</summary>
    public static IPretrainedTextFeaturizer? Text
    {
        get { _ = Loaded.Value; return _text; }
    }

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
