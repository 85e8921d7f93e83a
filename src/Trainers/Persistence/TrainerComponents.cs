using MLNetFusion.Models;
using System.Runtime.CompilerServices;
using System.Text.Json;
using MLNetFusion.Data;
using MLNetFusion.Persistence;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.Network;
using Microsoft.ML.Runtime;

namespace MLNetFusion.Trainers.Persistence;

/// <summary>Registers the trainers' components with the fusion model file's allow-list, and loads them.</summary>
internal static class TrainerComponents
{
#pragma warning disable CA2255 // A library module initializer is intended: it only fills the allow-list of loaders.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        // Version 2 added the modalities switched off by selection and the non-finite input handling; version 3 the
        // weight of the modality heads in the prediction (FusionNetwork.ModalityHeadWeight); version 4 records the
        // network's architecture (NetworkArchitecture) instead of the trainer's options.
        ComponentRegistry.Register(FusionPredictionTransformer.Kind, LoadFusionPrediction, version: 4);
        // One line per family: each registers its own network loader (and its other components).
        MergeFusionTrainer.Register();
        NetworkFusionTrainer.Register();
        CrossModalFusionTrainer.Register();
        FusionMlpTrainer.Register();
        LateFusionTrainer.Register();
        ComponentRegistry.Register(Ensemble.WeightedEnsembleTransformer.Kind, Ensemble.WeightedEnsembleTransformer.Load);
    }

    // A featurizer's network (one modality, the embedding its only output) loads as the featurizer it was saved from.
    private static Microsoft.ML.ITransformer LoadFusionPrediction(ComponentReader reader)
    {
        var network = LoadNetwork(reader);
        return Featurizers.ModalityFeaturizerTransformer.IsFeaturizer(network) ? new Featurizers.ModalityFeaturizerTransformer(network) : network;
    }

    private static FusionPredictionTransformer LoadNetwork(ComponentReader reader)
    {
        var c = reader.ReadConfig<FusionPredictionConfig>();
        if (reader.Version < 2) c = c with { Disabled = null, NonFiniteInputs = NonFiniteInputHandling.Error };   // version 1 had neither
        if (reader.Version < 3) c = c with { ModalityHeadWeight = 0 };   // predicted from the fused head alone
        if (!(c.ModalityHeadWeight >= 0 && c.ModalityHeadWeight <= FusionNetwork.MaxModalityHeadWeight))
            throw reader.Invalid($"its modality head weight {c.ModalityHeadWeight} is outside [0, {FusionNetwork.MaxModalityHeadWeight}]");
        if (c.Columns.Length == 0 || c.Columns.Length != c.Sizes.Length || c.Shapes.Length != c.Sizes.Length
            || c.Sizes.Any(s => s <= 0 || s > 1 << 26) || c.Shapes.Any(s => s.Length == 0 || s.Any(d => d <= 0)))
            throw reader.Invalid("its columns, sizes and shapes do not match");
        if (c.BatchSize < 1 || c.BatchSize > Training.TorchTrainerOptions.Limits.BatchSize)
            throw reader.Invalid($"its inference batch size {c.BatchSize} is outside [1, {Training.TorchTrainerOptions.Limits.BatchSize}]");
        if (c.Disabled != null && (c.Disabled.Length != c.Columns.Length || c.Disabled.All(d => d)))
            throw reader.Invalid("its disabled-modality flags do not match its columns");
        if (!Networks.TryGetValue(c.Family, out var entry)) throw reader.Invalid($"unknown fusion network '{c.Family}'");
        var (network, architecture) = entry.Build(reader, c);
        try
        {
            reader.ReadModule("weights", network);
            network.DisabledModalities = c.Disabled;
            if (c.ModalityHeadWeight > 0 && !network.HasModalityHeads) throw reader.Invalid("it weights modality heads that its network does not have");
            network.ModalityHeadWeight = c.ModalityHeadWeight;
            var layout = new ColumnLayout(c.Columns, c.Sizes, null);
            if (!Enum.IsDefined(c.NonFiniteInputs)) throw reader.Invalid($"unknown non-finite input handling {(int)c.NonFiniteInputs}");
            return new FusionPredictionTransformer(network, layout, LabelKeyValues.FromData(c.Labels), c.Outputs, c.BatchSize, null, entry.Family,
                new NetworkRecipe(entry.Key, architecture, c.Shapes)) { NonFiniteInputs = c.NonFiniteInputs };
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private sealed record NetworkLoader(string Key, FusionFamily Family, Func<ComponentReader, FusionPredictionConfig, (Models.FusionNetwork Network, string Architecture)> Build);

    private static readonly Dictionary<string, NetworkLoader> Networks = new(StringComparer.Ordinal);

    /// <summary>
    /// Registers how a TorchSharp trainer's network is rebuilt from a model file: each family folder calls it once for
    /// its trainer (the allow-list of network kinds). The network is built from its architecture record
    /// (<see cref="NetworkArchitecture{TLayers}"/> of <typeparamref name="TLayers"/>), or, in files written before it,
    /// from the trainer's options. <paramref name="legacyKeys"/> are keys older files wrote.
    /// </summary>
    internal static void RegisterNetwork<TOptions, TLayers>(string key, FusionFamily family, Func<IHostEnvironment, TOptions, FusionTrainerBase<TOptions>> trainer,
        params string[] legacyKeys) where TOptions : FusionTrainerOptions, new() where TLayers : FusionLayers
    {
        var loader = new NetworkLoader(key, family, (reader, c) =>
        {
            TOptions options;
            try
            {
                if (c.Architecture != null)
                {
                    var a = JsonSerializer.Deserialize<NetworkArchitecture<TLayers>>(c.Architecture, PersistenceJson.Options) ?? throw reader.Invalid("its architecture record is empty");
                    if (a.Version < 1 || a.Version > NetworkArchitecture<TLayers>.CurrentVersion)
                        throw reader.Invalid($"its architecture record is version {a.Version}, but this MLNetFusion reads versions 1 to {NetworkArchitecture<TLayers>.CurrentVersion}");
                    if (a.Modalities is null || a.Layers is null || a.Modalities.Any(m => m is null)) throw reader.Invalid("its architecture record has no modalities or layers");
                    options = new TOptions();
                    a.Layers.ApplyTo(options, a.Modalities);
                }
                else
                {
                    var json = c.Options ?? throw reader.Invalid("it records neither its network's architecture nor its trainer's options");
                    options = JsonSerializer.Deserialize<TOptions>(json, PersistenceJson.Options) ?? throw reader.Invalid("its options are empty");
                    Models.Kinds.AudioKind.ReadLegacyTrainerOptions(json, options.Modalities);
                }
            }
            catch (JsonException ex) { throw reader.Invalid($"its network's architecture is not valid JSON ({ex.Message})"); }
            catch (FormatException ex) { throw reader.Invalid(ex.Message); }
            catch (ArgumentException ex) { throw reader.Invalid($"its network's architecture has a value its settings refuse ({ex.Message.Split('\n')[0].TrimEnd()})"); }
            // The trainer validates the options (FusionMlp derives its modality there); BuildNetwork checks them against the shapes.
            var built = trainer(reader.Env, options);
            // Before anything is allocated: the weights must be able to hold the network the configuration describes, so a
            // small file that claims a huge network is rejected here, not after allocating gigabytes.
            double minimum = EncoderFactory.MinimumParameters(built.Options.Modalities, c.Shapes, c.Sizes);
            long stored = reader.EntrySize("weights");
            if (minimum * sizeof(float) > stored)
                throw reader.Invalid($"its configuration describes a network of at least {minimum:G3} parameters ({minimum * sizeof(float) / 1048576:F1} MB), " +
                    $"but its weights hold {stored} bytes");
            long limit = reader.Limits.MaximumParameters;
            if (stored / sizeof(float) > limit)
                throw new FusionModelFormatException($"The model's '{key}' network stores {stored / sizeof(float)} weights, more than the " +
                    $"{limit} parameters this load allows (FusionModelLoadOptions.MaximumParameters)." + Environment.NewLine +
                    "Hint: if you trust the file, raise the limit: mlContext.Model.LoadFusionModel(stream, out _, new FusionModelLoadOptions { MaximumParameters = … }).");
            // An older file's options become the architecture record, so the model is saved again in today's format.
            return (built.BuildNetwork(c.Shapes, c.Sizes, c.Labels.Count), built.ArchitectureJson());
        });
        foreach (var k in legacyKeys.Prepend(key)) Networks[k] = loader;
    }
}
