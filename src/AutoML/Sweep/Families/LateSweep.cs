using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Network;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>Late fusion: the combiner and the member kind (neural members add learning rate and epochs).</summary>
internal sealed class LateSweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.Late;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen)
        => LateMembers.TryGet(chosen, out var kind) && kind is LateFusionMemberKind.Neural or LateFusionMemberKind.Mixed
            ? new ISweepParameter[] { LateCombiner, LateMembers, LearningRate, Epochs }
            : new ISweepParameter[] { LateCombiner, LateMembers };

    public override IEstimator<ITransformer> Build(TrialContext c, FusionTrialSettings s)
    {
        var t = c.Ml.MulticlassClassification.Trainers;
        var kind = c.Value(s, LateMembers);
        var members = c.ModalitiesOf(s).Select((m, i) =>
        {
            bool neural = kind == LateFusionMemberKind.Neural || (kind == LateFusionMemberKind.Mixed && ModalityRegistry.Get(m.Kind).NeuralLateFusionMember);
            IEstimator<ITransformer> trainer = neural
                ? t.NetworkFusion(c.Neural(new NetworkFusionOptions { Modalities = new() { m.Clone() } }, s, c.Seed + i, multimodal: false))
                : kind == LateFusionMemberKind.LightGbm ? t.LightGbm(c.LightGbm(m.DenseFeaturesColumn, c.Seed + i))
                : c.Ml.Transforms.NormalizeMinMax("__sweep." + m.Name, m.FeaturesColumn).Append(t.LbfgsMaximumEntropy(c.Label, "__sweep." + m.Name));
            return new LateFusionMember(m.Name, neural ? m.ColumnName : kind == LateFusionMemberKind.LightGbm ? m.DenseFeaturesColumn : m.FeaturesColumn, trainer);
        }).ToList();
        return t.LateFusion(new LateFusionOptions
        {
            Members = members, Combiner = c.Value(s, LateCombiner), LabelColumnName = c.Label, NumberOfFolds = c.LateFolds, Seed = c.Seed,
            SamplingKeyColumnName = c.SamplingKey,
        });
    }
}
