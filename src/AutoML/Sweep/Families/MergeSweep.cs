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

    public override IEstimator<ITransformer> Build(CandidateContext c, FusionTrialSettings s)
    {
        var o = new MergeFusionOptions { Modalities = c.NetworkModalitiesOf(s) };
        if (c.TryValue(s, Operation, out var operation)) o.Operation = operation;
        if (c.TryValue(s, Width, out var width)) o.Width = width;
        return c.ML.MulticlassClassification.Trainers.MergeFusion(c.Neural(o, s));
    }
}
