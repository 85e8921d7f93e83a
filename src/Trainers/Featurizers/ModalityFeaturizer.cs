using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetFusion.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Training;

namespace MLNetFusion.Trainers.Featurizers;

/// <summary>Options for <see cref="ModalityFeaturizerEstimator"/>.</summary>
public sealed class ModalityFeaturizerOptions : TorchTrainerOptions
{
    /// <summary>Default values (the catalog's <c>FeaturizeImage</c>, <c>FeaturizeAudio</c> and <c>FeaturizeTabular</c> use them too).</summary>
    public new static class Defaults
    {
        /// <summary>The embedding column.</summary>
        public const string OutputColumnName = "Embedding";
        /// <summary>Epochs of the encoder's fit.</summary>
        public const int Epochs = 15;
        /// <summary>Dropout in the auxiliary classification head used while fitting.</summary>
        public const double HeadDropout = 0.2;
    }

    /// <summary>The embedding column to produce (<c>Vector&lt;Single&gt;</c> of the encoder's output width). Default <c>Embedding</c>.</summary>
    public string OutputColumnName { get; set; } = Defaults.OutputColumnName;

    /// <summary>The modality: its input column and encoder (CNN for images/spectrograms, MLP for tabular).</summary>
    public ModalityOptions Modality { get; set; } = new();

    /// <summary>Dropout in the auxiliary classification head used while fitting. Default 0.2.</summary>
    public double HeadDropout { get; set; } = Defaults.HeadDropout;

    /// <summary>Creates options with the featurizer defaults (15 epochs).</summary>
    public ModalityFeaturizerOptions() => Epochs = Defaults.Epochs;
}

/// <summary>
/// A trainable modality featurizer: fitting trains the modality's encoder with an auxiliary classification head on the
/// label; the fitted transformer outputs the encoder's embedding. Use it to give early fusion (<c>Concatenate</c>, then
/// any trainer) and late fusion learned features. Reach it with <c>mlContext.Transforms.FeaturizeImage/FeaturizeAudio/FeaturizeTabular</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>The key label (fitting only) and the modality's <c>Vector&lt;Single&gt;</c> column (shape from its dimensions or <see cref="CnnEncoderOptions.Shape"/>).</description></item>
/// <item><term>Output</term><description><c>Vector&lt;Single, width&gt;</c>: the encoder's embedding (ReLU features). An all-NaN input row gives an error naming the row.</description></item>
/// <item><term>Leakage</term><description>Features of the rows the encoder was fitted on fit the labels better than features of new rows; fit the downstream trainer on other rows, or regularise it, when that matters.</description></item>
/// <item><term>Package</term><description>MLNetFusion.Trainers (in the MLNetFusion package); the app references TorchSharp-cpu.</description></item>
/// </list>
/// </remarks>
public sealed class ModalityFeaturizerEstimator : IEstimator<ModalityFeaturizerTransformer>
{
    private readonly NetworkFusionTrainer _trainer;

    /// <summary>Creates the estimator.</summary>
    public ModalityFeaturizerEstimator(IHostEnvironment env, ModalityFeaturizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var o = new NetworkFusionOptions
        {
            Modalities = new List<ModalityOptions> { options.Modality.Clone() },
            FusionWidths = Array.Empty<int>(), HeadHiddenWidths = Array.Empty<int>(), HeadDropout = options.HeadDropout,
            ModalityDropout = 0, AuxiliaryLossWeight = 0,
            ScoreColumnName = null, PredictedLabelColumnName = null, EmbeddingColumnName = options.OutputColumnName,
        };
        options.CopyTrainingOptionsTo(o);
        _trainer = new NetworkFusionTrainer(env, o);
    }

    /// <inheritdoc />
    public ModalityFeaturizerTransformer Fit(IDataView input) => new(_trainer.Fit(input));

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _trainer.GetOutputSchema(inputSchema);
}
