using System.Runtime.CompilerServices;
using System.Text.Json;
using MLNetFusion.Data;
using MLNetFusion.Persistence;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Mlp;
using MLNetFusion.Trainers.Network;

namespace MLNetFusion.Trainers.Persistence;

/// <summary>Registers the trainers' components with the fusion model file's allow-list, and loads them.</summary>
internal static class TrainerComponents
{
#pragma warning disable CA2255 // A library module initializer is intended: it only fills the allow-list of loaders.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        ComponentRegistry.Register(FusionPredictionTransformer.Kind, LoadFusionPrediction);
        ComponentRegistry.Register(LateFusionTransformer.Kind, LateFusionTransformer.Load);
        ComponentRegistry.Register(MemberInputGuard.Kind, MemberInputGuard.Load);
        ComponentRegistry.Register(MemberScoreCopy.Kind, MemberScoreCopy.Load);
        ComponentRegistry.Register(LateFusionCombinerMapper.Kind, LateFusionCombinerMapper.Load);
    }

    private static FusionPredictionTransformer LoadFusionPrediction(ComponentReader reader)
    {
        var c = reader.ReadConfig<FusionPredictionConfig>();
        if (c.Columns.Length == 0 || c.Columns.Length != c.Sizes.Length || c.Shapes.Length != c.Sizes.Length
            || c.Sizes.Any(s => s <= 0 || s > 1 << 26) || c.Shapes.Any(s => s.Length == 0 || s.Any(d => d <= 0)))
            throw reader.Invalid("its columns, sizes and shapes do not match");
        var network = c.Family switch
        {
            "merge" => Build<MergeFusionOptions>(reader, c, o => new MergeFusionTrainer(reader.Env, o)),
            "network" => Build<NetworkFusionOptions>(reader, c, o => new NetworkFusionTrainer(reader.Env, o)),
            "crossmodal" => Build<CrossModalFusionOptions>(reader, c, o => new CrossModalFusionTrainer(reader.Env, o)),
            "mlp" => Build<FusionMlpOptions>(reader, c, o => new FusionMlpTrainer(reader.Env, o)),
            _ => throw reader.Invalid($"unknown fusion family '{c.Family}'"),
        };
        try
        {
            reader.ReadModule("weights", network);
            var layout = new ColumnLayout(c.Columns, c.Sizes, null);
            return new FusionPredictionTransformer(network, layout, LabelKeyValues.FromData(c.Labels), c.Outputs, c.BatchSize, null, c.Family,
                new NetworkRecipe(c.Family, c.Options, c.Shapes));
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private static Models.FusionNetwork Build<TOptions>(ComponentReader reader, FusionPredictionConfig c, Func<TOptions, FusionTrainerBase<TOptions>> trainer)
        where TOptions : FusionTrainerOptions
    {
        var options = JsonSerializer.Deserialize<TOptions>(c.Options, PersistenceJson.Options) ?? throw reader.Invalid("its options are empty");
        // The trainer validates the options (FusionMlp derives its modality there); BuildNetwork checks them against the shapes.
        return trainer(options).BuildNetwork(c.Shapes, c.Sizes, c.Labels.Count);
    }
}
