using Microsoft.ML;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>Cross-modal fusion: the depth and the neural parameters.</summary>
internal sealed class CrossModalSweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.CrossModal;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen) => SweepParameters.Neural.Prepend(CrossModalDepth).ToList();

    public override IEstimator<ITransformer> Build(TrialContext c, FusionTrialSettings s)
    {
        int width = c.Value(s, Width);
        return c.Ml.MulticlassClassification.Trainers.CrossModalFusion(c.Neural(new CrossModalFusionOptions
        {
            Modalities = c.ModalityOptionsOf(s), Depth = c.Value(s, CrossModalDepth), Width = width, Heads = width % 4 == 0 ? 4 : 1,
        }, s, c.Seed));
    }
}
