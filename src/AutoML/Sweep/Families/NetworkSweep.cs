using Microsoft.ML;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Network;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>Network fusion: intermediate layers or not, and the neural parameters.</summary>
internal sealed class NetworkSweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.Network;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen) => SweepParameters.Neural.Prepend(IntermediateLayers).ToList();

    public override IEstimator<ITransformer> Build(TrialContext c, FusionTrialSettings s)
        => c.Ml.MulticlassClassification.Trainers.NetworkFusion(c.Neural(new NetworkFusionOptions
        {
            Modalities = c.ModalityOptionsOf(s), UseIntermediateLayers = c.Value(s, IntermediateLayers),
            FusionWidths = new[] { c.Value(s, Width) * 2 }, FusionDropout = c.Value(s, Dropout),
        }, s, c.Seed));
}
