using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetFusion.Data;
using System.Text.Json;
using MLNetFusion.Models;
using MLNetFusion.Persistence;
using MLNetFusion.Runtime;
using MLNetFusion.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Trainers;

/// <summary>
/// The estimator behind every MLNetFusion TorchSharp trainer. It validates the schema, reads the data in batches
/// (<see cref="TensorDataSources"/>), fits input statistics, builds the encoders and the family's network under a
/// seeded generator, trains with the shared <see cref="TrainingLoop"/> and returns a <see cref="FusionPredictionTransformer"/>.
/// A family supplies only its network.
/// </summary>
/// <typeparam name="TOptions">The family's options.</typeparam>
public abstract class FusionTrainerBase<TOptions> : IEstimator<FusionPredictionTransformer>
    where TOptions : FusionTrainerOptions
{
    private readonly IHost _host;

    /// <summary>Creates the trainer.</summary>
    /// <param name="env">The ML.NET environment (an <see cref="MLContext"/>): seed, log and cancellation.</param>
    /// <param name="options">The options; validated here.</param>
    /// <param name="family">The fusion family (logs, <see cref="FusionPredictionTransformer.Family"/>).</param>
    /// <param name="modelKey">The key the model file records for rebuilding the network, registered with the family's loader
    /// (default: the family's name).</param>
    protected FusionTrainerBase(IHostEnvironment env, TOptions options, FusionFamily family, string? modelKey = null)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Family = family;
        ModelKey = modelKey ?? family.Name();
        _host = env.Register("MLNetFusion." + ModelKey);
    }

    /// <summary>The trainer's options.</summary>
    public TOptions Options { get; }

    /// <summary>The fusion family.</summary>
    public FusionFamily Family { get; }

    /// <summary>The key the model file records for this trainer's network.</summary>
    internal string ModelKey { get; }

    /// <summary>Lets a family adjust a modality's encoder settings before the encoder is built (default: unchanged).</summary>
    protected virtual ModalityOptions PrepareModality(ModalityOptions modality) => modality;

    /// <summary>The family's layers as a model file records them (<see cref="NetworkArchitecture{TLayers}"/>).</summary>
    private protected abstract FusionLayers Layers();

    /// <summary>The modalities as the encoders are built from them: the trainer-wide settings applied (what a model file records).</summary>
    internal List<ModalityOptions> PreparedModalities() => Options.Modalities.Select(m => PrepareModality(WithAugmentation(m.Clone()))).ToList();

    /// <summary>The network's architecture record, as a model file holds it.</summary>
    internal string ArchitectureJson()
        => JsonSerializer.Serialize(new NetworkArchitecture<object>(NetworkArchitecture<object>.CurrentVersion, PreparedModalities(), Layers()), PersistenceJson.Options);

    /// <summary>Builds the family's network from the encoders.</summary>
    protected abstract FusionNetwork CreateNetwork(IReadOnlyList<ModalityEncoder> encoders, int classCount);

    /// <summary>The training objective (default: fused cross-entropy plus the auxiliary per-modality losses).</summary>
    protected virtual FusionLoss CreateLoss() => Options.BalancedLearningAlpha > 0 && Options.Modalities.Count > 1
        ? new BalancedFusionLoss(Options.AuxiliaryLossWeight, Options.BalancedLearningAlpha)
        : new FusionLoss(Options.AuxiliaryLossWeight);

    /// <summary>The modality with the trainer-wide settings applied by its kind (<see cref="IModalityKind.ApplyTrainerSettings"/>): the kind's augmentation preset at <c>AugmentationStrength</c> when it sets none of its own, or the kind's own default. Used when training and when rebuilding a saved network, so both see the same encoder.</summary>
    private ModalityOptions WithAugmentation(ModalityOptions m)
    {
        ModalityRegistry.Get(m.Kind).ApplyTrainerSettings(m, new ModalityTrainerSettings(Options.AugmentationStrength));
        return m;
    }

    // The modality heads join the prediction when there are several modalities and the network has heads.
    private double HeadWeight(FusionNetwork network) => Options.Modalities.Count > 1 && network.HasModalityHeads ? Options.ModalityHeadWeight : 0;

    /// <inheritdoc />
    public FusionPredictionTransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains on <paramref name="trainData"/>; validates on <paramref name="validationData"/> when given
    /// (else on <see cref="TorchTrainerOptions.ValidationFraction"/> of the training rows).</summary>
    public FusionPredictionTransformer Fit(IDataView trainData, IDataView? validationData)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        TorchRuntime.EnsureInitialized();
        var o = Options;
        var schema = trainData.Schema;
        int classes = SchemaErrors.RequireKeyLabel(schema, o.LabelColumnName);
        SchemaErrors.RequireSeveralClasses(trainData, o.LabelColumnName);
        var labels = LabelKeyValues.FromColumn(schema[o.LabelColumnName]);
        var sizes = new List<int>();
        var shapes = new List<int[]>();
        foreach (var m in o.Modalities)
        {
            int size = SchemaErrors.RequireFloatVector(schema, m.ColumnName);
            var dims = schema[m.ColumnName].Type is VectorDataViewType vt ? vt.Dimensions.ToArray() : new[] { 1 };
            shapes.Add(EncoderFactory.ResolveShape(m, size, dims));
            sizes.Add(size);
        }
        if (o.SamplingKeyColumnName != null)
            SchemaErrors.FindColumn(schema, o.SamplingKeyColumnName,
                $"the sampling key column '{o.SamplingKeyColumnName}' (TorchTrainerOptions.SamplingKeyColumnName) must be a column of the training data; keep it through the feature pipeline.");
        var layout = new ColumnLayout(o.Modalities.Select(m => m.ColumnName).ToArray(), sizes, o.LabelColumnName);
        if (validationData != null)
        {
            SchemaErrors.RequireKeyLabel(validationData.Schema, o.LabelColumnName);
            for (int i = 0; i < layout.Columns.Count; i++)
                if (SchemaErrors.RequireFloatVector(validationData.Schema, layout.Columns[i]) != sizes[i])
                    throw SchemaErrors.Mismatch(layout.Columns[i], $"Vector<Single, {sizes[i]}>", validationData.Schema[layout.Columns[i]].Type,
                        "featurize the validation data exactly as the training data.");
        }

        var device = FusionDevice.Resolve(o.Device);   // before reading any data: a missing CUDA backend fails fast
        int seed = o.Seed ?? _host.Rand.Next();
        using var ch = _host.Start("Training");
        void Log(string msg) => ch.Info(MessageSensitivity.None, msg);
        void Warn(string msg) => ch.Warning(MessageSensitivity.None, msg);

        int previousThreads = torch.get_num_threads();
        if (o.NumberOfThreads is int t && t > 0) torch.set_num_threads(t);
        try
        {
            var (train, valid) = TensorDataSources.Create(trainData, layout, o.Caching, validationData == null ? o.ValidationFraction : 0,
                seed, o.ShuffleBufferRows, Warn, o.SamplingKeyColumnName, Log);
            if (validationData != null)
                valid = TensorDataSources.Create(validationData, layout, o.Caching, 0, seed, o.ShuffleBufferRows, Warn).train;
            try
            {
                var stats = FeatureStatistics.Compute(train, sizes);
                Log($"{Family.Name()}: {o.Modalities.Count} modalities ({string.Join(", ", o.Modalities.Select((m, i) => $"{m.Name} [{string.Join("x", shapes[i])}]"))}), " +
                    $"{classes} classes, {train.Count?.ToString() ?? "streamed"} training rows, seed {seed}.");
                FusionNetwork network;
                TrainingSummary summary;
                var prepared = PreparedModalities();
                using (new TorchSeedScope(seed))
                {
                    var encoders = prepared.Select((m, i) => EncoderFactory.Create(m, shapes[i], stats[i])).ToList();
                    network = CreateNetwork(encoders, classes);
                    network.ModalityHeadWeight = HeadWeight(network);
                    if (o.ModalityHeadWeight > 0 && o.Modalities.Count > 1 && network.ModalityHeadWeight == 0)
                        Log("The modality heads are not part of the prediction: AuxiliaryLossWeight is 0, so there are none.");
                    try
                    {
                        if (device.type != DeviceType.CPU) network.to(device);
                        summary = TrainingLoop.Run(network, train, valid, o, seed, Log, CreateLoss(), $"{Family.Name()} fusion of {string.Join(", ", o.Modalities.Select(m => m.Name))}");
                        if (o.SelectModalities && o.Modalities.Count > 1)
                        {
                            if (valid != null) ModalitySelection.Select(network, valid, o.InferenceBatchSize, o.Modalities.Select(m => m.Name).ToArray(), Log);
                            else Log("Modality selection skipped: no validation rows (set ValidationFraction or pass validation data to Fit); every modality is used.");
                        }
                    }
                    catch
                    {
                        network.Dispose();
                        throw;
                    }
                }
                var outputs = new FusionOutputColumns(o.ScoreColumnName, o.PredictedLabelColumnName, o.EmbeddingColumnName, o.ModalitiesUsedColumnName);
                var recipe = new NetworkRecipe(ModelKey, ArchitectureJson(), shapes.ToArray());
                return new FusionPredictionTransformer(network, layout, labels, outputs, o.InferenceBatchSize, summary, Family, recipe) { NonFiniteInputs = o.NonFiniteInputs };
            }
            finally
            {
                train.Dispose();
                valid?.Dispose();
            }
        }
        finally
        {
            torch.set_num_threads(previousThreads);
        }
    }

    /// <summary>
    /// Rebuilds the untrained network for a saved model: the same encoders and family network, with placeholder input
    /// statistics (the saved weights, which include the statistics, overwrite everything).
    /// </summary>
    internal FusionNetwork BuildNetwork(IReadOnlyList<int[]> shapes, IReadOnlyList<int> sizes, int classes)
    {
        if (shapes.Count != Options.Modalities.Count || sizes.Count != shapes.Count)
            throw new FormatException($"{shapes.Count} shapes and {sizes.Count} sizes for {Options.Modalities.Count} modalities");
        TorchRuntime.EnsureInitialized();
        using var seed = new TorchSeedScope(0);
        var encoders = Options.Modalities.Select((m, i) =>
        {
            var placeholder = new FeatureStatistics(new float[sizes[i]], Enumerable.Repeat(1f, sizes[i]).ToArray(), 0, 1);
            return EncoderFactory.Create(PrepareModality(WithAugmentation(m.Clone())), EncoderFactory.ResolveShape(m, sizes[i], shapes[i]), placeholder);
        }).ToList();
        var network = CreateNetwork(encoders, classes);
        network.ModalityHeadWeight = HeadWeight(network);
        return network;
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var label = SchemaShapes.RequireKeyLabel(inputSchema, Options.LabelColumnName);
        foreach (var m in Options.Modalities) SchemaShapes.RequireFloatVector(inputSchema, m.ColumnName);
        var added = SchemaShapes.MulticlassOutputs(label, Options.ScoreColumnName, Options.PredictedLabelColumnName).ToList();
        if (Options.EmbeddingColumnName != null)
            added.Add(SchemaShapes.Column(Options.EmbeddingColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false));
        if (Options.ModalitiesUsedColumnName != null)
            added.Add(SchemaShapes.Column(Options.ModalitiesUsedColumnName, SchemaShape.Column.VectorKind.Vector, BooleanDataViewType.Instance, false));
        return SchemaShapes.Append(inputSchema, added);
    }
}
