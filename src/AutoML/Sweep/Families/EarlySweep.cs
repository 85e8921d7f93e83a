using Microsoft.ML;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Early;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>Early fusion: <c>Concatenate</c>, then LightGBM, L-BFGS or the FusionMlp (which adds the neural parameters).</summary>
internal sealed class EarlySweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.Early;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen)
        => EarlyLearner.TryGet(chosen, out var learner) && learner == EarlyFusionLearner.FusionMlp
            ? new ISweepParameter[] { EarlyLearner, LearningRate, Width, Dropout, Epochs }
            : new ISweepParameter[] { EarlyLearner };

    public override IEstimator<ITransformer> Build(TrialContext c, FusionTrialSettings s)
    {
        var t = c.Ml.MulticlassClassification.Trainers;
        // L-BFGS reads sparse features as they are; LightGBM and the MLP read each modality's bounded dense features
        // (text hashed to 1,024 slots), never a dense copy of a vocabulary-wide n-gram vector.
        var learner = c.Value(s, EarlyLearner);
        var concat = c.Ml.Transforms.Concatenate(TrialContext.EarlyFeatures, c.ModalitiesOf(s)
            .Select(m => learner == EarlyFusionLearner.LbfgsMaximumEntropy ? m.FeaturesColumn : m.DenseFeaturesColumn).ToArray());
        int width = c.Value(s, Width);
        return learner switch
        {
            EarlyFusionLearner.LightGbm => concat.Append<ITransformer>(t.LightGbm(c.LightGbm(TrialContext.EarlyFeatures, c.Seed))),
            EarlyFusionLearner.LbfgsMaximumEntropy => concat.Append<ITransformer>(c.Ml.Transforms.NormalizeMinMax(TrialContext.EarlyFeatures))
                .Append(t.LbfgsMaximumEntropy(Leaderboard.LinearDefaults.Options(c.Label, TrialContext.EarlyFeatures))),
            _ => concat.Append<ITransformer>(t.FusionMlp(c.Neural(new FusionMlpOptions
            {
                FeatureColumnName = TrialContext.EarlyFeatures, HiddenWidths = new[] { width * 2, width }, Dropout = c.Value(s, Dropout),
            }, s, c.Seed, multimodal: false))),
        };
    }
}
