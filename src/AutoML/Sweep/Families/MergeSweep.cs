using Microsoft.ML;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Merge;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>Merge fusion: the operation and the neural parameters.</summary>
internal sealed class MergeSweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.Merge;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen) => SweepParameters.Neural.Prepend(Operation).ToList();

    public override IEstimator<ITransformer> Build(TrialContext c, FusionTrialSettings s)
        => c.Ml.MulticlassClassification.Trainers.MergeFusion(c.Neural(new MergeFusionOptions
        {
            Modalities = c.ModalityOptionsOf(s), Operation = c.Value(s, Operation), Width = c.Value(s, Width),
        }, s, c.Seed));
}
