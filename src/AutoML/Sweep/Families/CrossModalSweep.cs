using Microsoft.ML;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>Cross-modal fusion: the number of exchanges and the neural parameters (four heads where the width allows).</summary>
internal sealed class CrossModalSweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.CrossModal;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen) => SweepParameters.Neural.Prepend(CrossModalDepth).ToList();

    public override IEstimator<ITransformer> Build(CandidateContext c, FusionTrialSettings s)
    {
        var o = new CrossModalFusionOptions { Modalities = c.NetworkModalitiesOf(s) };
        if (c.TryValue(s, CrossModalDepth, out var depth)) o.Depth = depth;
        if (c.TryValue(s, Width, out var width)) { o.Width = width; o.Heads = width % 4 == 0 ? 4 : 1; }
        return c.ML.MulticlassClassification.Trainers.CrossModalFusion(c.Neural(o, s));
    }
}
