using MLNetFusion.Models;
using MLNetFusion.Runtime;
using MLNetFusion.Trainers.Featurizers;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>
/// Trainable modality featurizers on <c>mlContext.Transforms</c>: each fits one modality's encoder on the label (with the
/// trainers' machinery) and outputs its embedding, for early fusion or any ML.NET trainer downstream.
/// Sample: <c>src/Samples/EarlyFusionSample.cs</c>.
/// </summary>
public static class FusionFeaturizersCatalog
{
    /// <summary>
    /// A trainable image featurizer: fits a CNN (two conv+ReLU+maxpool blocks and a projection) on the label and outputs
    /// its <paramref name="width"/>-wide embedding. Input: <c>Vector&lt;Single&gt;</c> pixels (shape from <c>ExtractPixels</c>).
    /// </summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="outputColumnName">The embedding column to add.</param>
    /// <param name="inputColumnName">The modality column (<c>Vector&lt;Single&gt;</c>).</param>
    /// <param name="labelColumnName">Key-typed label column the encoder is trained on.</param>
    /// <param name="width">Width of the output embedding.</param>
    /// <param name="epochs">Training epochs of the encoder.</param>
    public static ModalityFeaturizerEstimator FeaturizeImage(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        string labelColumnName = "Label", int width = CnnEncoderOptions.Defaults.OutputWidth, int epochs = ModalityFeaturizerOptions.Defaults.Epochs)
        => FeaturizeModality(catalog, new ModalityFeaturizerOptions
        {
            OutputColumnName = outputColumnName, LabelColumnName = labelColumnName, Epochs = epochs,
            Modality = new ModalityOptions { Name = "image", ColumnName = inputColumnName, Kind = ModalityKind.Image, EncoderOptions = new CnnEncoderOptions { OutputWidth = width } },
        });

    /// <summary>
    /// A trainable audio featurizer: fits a CNN over a <c>[bands, frames]</c> log-mel spectrogram on the label and outputs
    /// its <paramref name="width"/>-wide embedding.
    /// </summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="outputColumnName">The embedding column to add.</param>
    /// <param name="inputColumnName">The modality column (<c>Vector&lt;Single&gt;</c>).</param>
    /// <param name="labelColumnName">Key-typed label column the encoder is trained on.</param>
    /// <param name="width">Width of the output embedding.</param>
    /// <param name="epochs">Training epochs of the encoder.</param>
    public static ModalityFeaturizerEstimator FeaturizeAudio(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        string labelColumnName = "Label", int width = CnnEncoderOptions.Defaults.OutputWidth, int epochs = ModalityFeaturizerOptions.Defaults.Epochs)
        => FeaturizeModality(catalog, new ModalityFeaturizerOptions
        {
            OutputColumnName = outputColumnName, LabelColumnName = labelColumnName, Epochs = epochs,
            Modality = new ModalityOptions { Name = "audio", ColumnName = inputColumnName, Kind = ModalityKind.Audio, EncoderOptions = new CnnEncoderOptions { OutputWidth = width } },
        });

    /// <summary>A trainable tabular featurizer: fits an MLP on the label and outputs its last hidden layer.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="outputColumnName">The embedding column to add.</param>
    /// <param name="inputColumnName">The modality column (<c>Vector&lt;Single&gt;</c>).</param>
    /// <param name="labelColumnName">Key-typed label column the encoder is trained on.</param>
    /// <param name="hiddenWidths">Hidden layer widths of the MLP (the last is the output width).</param>
    /// <param name="epochs">Training epochs of the encoder.</param>
    public static ModalityFeaturizerEstimator FeaturizeTabular(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        string labelColumnName = "Label", int[]? hiddenWidths = null, int epochs = ModalityFeaturizerOptions.Defaults.Epochs)
        => FeaturizeModality(catalog, new ModalityFeaturizerOptions
        {
            OutputColumnName = outputColumnName, LabelColumnName = labelColumnName, Epochs = epochs,
            Modality = ModalityOptions.Tabular(inputColumnName, "tabular", hiddenWidths ?? MlpEncoderOptions.Defaults.HiddenWidths),
        });

    /// <summary>A trainable featurizer for any modality, with all options.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="ModalityFeaturizerOptions"/>).</param>
    public static ModalityFeaturizerEstimator FeaturizeModality(this TransformsCatalog catalog, ModalityFeaturizerOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);
}
