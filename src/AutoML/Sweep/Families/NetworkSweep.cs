using Microsoft.ML;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Network;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>Network fusion: intermediate layers or not, and the neural parameters (the fusion layer is twice the width).</summary>
internal sealed class NetworkSweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.Network;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen) => SweepParameters.Neural.Prepend(IntermediateLayers).ToList();

    public override IEstimator<ITransformer> Build(CandidateContext c, FusionTrialSettings s)
        => c.ML.MulticlassClassification.Trainers.NetworkFusion(c.Neural(Options(c, s, c.NetworkModalitiesOf(s)), s));

    /// <summary>The network's options over <paramref name="modalities"/> (hybrid fusion's network too).</summary>
    internal static NetworkFusionOptions Options(CandidateContext c, FusionTrialSettings s, List<Models.ModalityOptions> modalities)
    {
        var o = new NetworkFusionOptions { Modalities = modalities };
        if (c.TryValue(s, IntermediateLayers, out var intermediate)) o.UseIntermediateLayers = intermediate;
        if (c.TryValue(s, Width, out var width)) o.FusionWidths = new[] { width * 2 };
        if (c.TryValue(s, Dropout, out var dropout)) o.FusionDropout = dropout;
        return o;
    }
}
