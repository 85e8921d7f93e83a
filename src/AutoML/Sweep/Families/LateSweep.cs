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
        var members = LateFusionMemberRecipe.Create(c.Ml, c.Label, c.ModalitiesOf(s).ToList(),
            (m, i) => c.Neural(new NetworkFusionOptions { Modalities = new() { m } }, s, c.Seed + i, multimodal: false), kind, seed: c.Seed);
        return t.LateFusion(new LateFusionOptions
        {
            Members = members, Combiner = c.Value(s, LateCombiner), LabelColumnName = c.Label, NumberOfFolds = c.LateFolds, Seed = c.Seed,
            SamplingKeyColumnName = c.SamplingKey,
        });
    }
}
