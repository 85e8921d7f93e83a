using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Runtime;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.Hybrid;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Training;

using MLNetFusion.Trainers;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>
/// Catalog entry points for MLNetFusion's TorchSharp trainers on <c>mlContext.MulticlassClassification.Trainers</c>.
/// Each has a short overload (columns and the knobs people change) and an options overload. Samples:
/// <c>src/Samples/EarlyFusionSample.cs</c> and <c>src/Samples/NeuralFusionSample.cs</c>.
/// </summary>
public static class FusionTrainersCatalog
{
    /// <summary>
    /// A TorchSharp MLP over one feature vector: the neural classifier for early fusion
    /// (<c>Concatenate</c> modality features, then this).
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="featureColumnName"><c>Vector&lt;Single&gt;</c> feature column.</param>
    /// <param name="hiddenWidths">Hidden layer widths; default [128, 64].</param>
    /// <param name="epochs">Epochs; default 20.</param>
    /// <param name="learningRate">Peak learning rate; default 2e-3.</param>
    public static FusionMlpTrainer FusionMlp(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = TorchTrainerOptions.Defaults.LabelColumnName, string featureColumnName = FusionMlpOptions.Defaults.FeatureColumnName,
        int[]? hiddenWidths = null, int epochs = TorchTrainerOptions.Defaults.Epochs, double learningRate = TorchTrainerOptions.Defaults.LearningRate)
        => new(FusionEnvironment.FromCatalog(catalog), new FusionMlpOptions
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, HiddenWidths = hiddenWidths?.ToArray() ?? FusionMlpOptions.Defaults.HiddenWidths,
            Epochs = epochs, LearningRate = learningRate,
        });

    /// <summary>A TorchSharp MLP with all options.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="FusionMlpOptions"/>).</param>
    public static FusionMlpTrainer FusionMlp(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, FusionMlpOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);

    /// <summary>Merge fusion: per-modality embeddings of one width combined by <paramref name="operation"/>.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="modalities">The modalities (e.g. <c>ModalityOptions.Image("Pixels")</c>, <c>ModalityOptions.Audio("LogMel")</c>).</param>
    /// <param name="operation">How embeddings are combined; default attention.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="epochs">Epochs; default 20.</param>
    public static MergeFusionTrainer MergeFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        IEnumerable<ModalityOptions> modalities, MergeOperation operation = MergeOperation.Attention,
        string labelColumnName = TorchTrainerOptions.Defaults.LabelColumnName, int epochs = TorchTrainerOptions.Defaults.Epochs)
        => new(FusionEnvironment.FromCatalog(catalog), new MergeFusionOptions
        {
            Modalities = modalities.ToList(), Operation = operation, LabelColumnName = labelColumnName, Epochs = epochs,
        });

    /// <summary>Merge fusion with all options.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="MergeFusionOptions"/>).</param>
    public static MergeFusionTrainer MergeFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, MergeFusionOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);

    /// <summary>Network fusion: encoder layers concatenated and merged by learned layers, trained end to end.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="modalities">The modalities.</param>
    /// <param name="useIntermediateLayers">Concatenate every encoder stage, not only the final embeddings.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="epochs">Epochs; default 20.</param>
    public static NetworkFusionTrainer NetworkFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        IEnumerable<ModalityOptions> modalities, bool useIntermediateLayers = false,
        string labelColumnName = TorchTrainerOptions.Defaults.LabelColumnName, int epochs = TorchTrainerOptions.Defaults.Epochs)
        => new(FusionEnvironment.FromCatalog(catalog), new NetworkFusionOptions
        {
            Modalities = modalities.ToList(), UseIntermediateLayers = useIntermediateLayers, LabelColumnName = labelColumnName, Epochs = epochs,
        });

    /// <summary>Network fusion with all options.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="NetworkFusionOptions"/>).</param>
    public static NetworkFusionTrainer NetworkFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, NetworkFusionOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);

    /// <summary>
    /// Hybrid fusion: a boosted model on the tabular columns (<paramref name="boostedTrainer"/>, for example LightGBM)
    /// whose out-of-fold class probabilities are one more modality of a fusion network over <paramref name="modalities"/>.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="boostedTrainer">The tabular branch's multiclass trainer (on the tabular column, writing <c>Score</c>).</param>
    /// <param name="modalities">The other modalities (images, audio, text).</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="epochs">Epochs of the network; default 20.</param>
    public static HybridFusionTrainer HybridFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        IEstimator<ITransformer> boostedTrainer, IEnumerable<ModalityOptions> modalities,
        string labelColumnName = TorchTrainerOptions.Defaults.LabelColumnName, int epochs = TorchTrainerOptions.Defaults.Epochs)
        => new(FusionEnvironment.FromCatalog(catalog), new HybridFusionOptions
        {
            BoostedTrainer = boostedTrainer,
            Network = new NetworkFusionOptions { Modalities = modalities.ToList(), LabelColumnName = labelColumnName, Epochs = epochs },
        });

    /// <summary>Hybrid fusion with all options.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="HybridFusionOptions"/>).</param>
    public static HybridFusionTrainer HybridFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, HybridFusionOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);

    /// <summary>Cross-modal fusion: modalities exchange context by cross-attention, <paramref name="depth"/> times.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="modalities">The modalities.</param>
    /// <param name="depth">Number of exchanges (1 = a single exchange).</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="epochs">Epochs; default 20.</param>
    public static CrossModalFusionTrainer CrossModalFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        IEnumerable<ModalityOptions> modalities, int depth = 1,
        string labelColumnName = TorchTrainerOptions.Defaults.LabelColumnName, int epochs = TorchTrainerOptions.Defaults.Epochs)
        => new(FusionEnvironment.FromCatalog(catalog), new CrossModalFusionOptions
        {
            Modalities = modalities.ToList(), Depth = depth, LabelColumnName = labelColumnName, Epochs = epochs,
        });

    /// <summary>Cross-modal fusion with all options.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="CrossModalFusionOptions"/>).</param>
    public static CrossModalFusionTrainer CrossModalFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, CrossModalFusionOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);

    /// <summary>
    /// Late fusion: one multiclass trainer per modality; their class probabilities are combined by <paramref name="combiner"/>.
    /// Stacking uses L-BFGS maximum entropy (L2 = 1) on out-of-fold member probabilities as its meta-learner.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="members">One member per modality: a name, its feature column and its trainer.</param>
    /// <param name="combiner">How probabilities are combined; default average.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    public static LateFusionTrainer LateFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        IEnumerable<LateFusionMember> members, LateFusionCombiner combiner = LateFusionOptions.Defaults.Combiner, string labelColumnName = TorchTrainerOptions.Defaults.LabelColumnName)
        => catalog.LateFusion(new LateFusionOptions { Members = members.ToList(), Combiner = combiner, LabelColumnName = labelColumnName });

    /// <summary>Late fusion with all options; a stacking meta-learner left unset defaults to L-BFGS maximum entropy (L2 = 1).</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="LateFusionOptions"/>).</param>
    public static LateFusionTrainer LateFusion(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, LateFusionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Combiner == LateFusionCombiner.Stacking && options.MetaLearner is null)
            options.MetaLearner = catalog.LbfgsMaximumEntropy(options.LabelColumnName, options.MetaFeatureColumnName, l1Regularization: 0f, l2Regularization: 1f);
        return new(FusionEnvironment.FromCatalog(catalog), options);
    }
}
