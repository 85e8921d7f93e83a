using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Early;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>
/// Early fusion: <c>Concatenate</c>, then LightGBM, L-BFGS maximum entropy or the FusionMlp (which adds the neural
/// parameters; hidden widths four times the width, then the width). The plain baselines are early fusion too: over
/// every modality, or over one (<c>modalities</c>), with the pretrained embeddings or without (<c>pretrainedFeatures</c>).
/// </summary>
internal sealed class EarlySweep : FamilySweep
{
    /// <summary>The column the modalities are concatenated into.</summary>
    internal const string Features = "__fusion.Features";

    public override FusionFamily Family => FusionFamily.Early;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen)
        => EarlyLearner.TryGet(chosen, out var learner) && learner == EarlyFusionLearner.FusionMlp
            ? new ISweepParameter[] { EarlyLearner, LearningRate, Width, Dropout, Epochs }
            : new ISweepParameter[] { EarlyLearner };

    public override IEstimator<ITransformer> Build(CandidateContext c, FusionTrialSettings s)
    {
        var t = c.ML.MulticlassClassification.Trainers;
        // L-BFGS reads sparse features as they are; LightGBM and the MLP read each modality's bounded dense features
        // (text hashed to 1,024 slots), never a dense copy of a vocabulary-wide n-gram vector.
        var learner = c.Value(s, EarlyLearner, EarlyFusionLearner.LightGbm);
        bool dense = learner != EarlyFusionLearner.LbfgsMaximumEntropy, pretrained = c.Value(s, PretrainedFeatures, false);
        var columns = c.ModalitiesOf(s).Select(m => c.FeatureColumnOf(m, dense, pretrained)).ToArray();
        // One column (a baseline on one modality) is read as it is; several are concatenated.
        string features = columns.Length == 1 ? columns[0] : Features;
        var chain = new EstimatorChain<ITransformer>();
        if (columns.Length > 1) chain = chain.Append<ITransformer>(c.ML.Transforms.Concatenate(Features, columns));
        switch (learner)
        {
            case EarlyFusionLearner.LightGbm:
                return chain.Append<ITransformer>(t.LightGbm(c.LightGbm(features)));
            case EarlyFusionLearner.LbfgsMaximumEntropy:
                // Features that are not normalised yet (a sweep over a user's own columns) are min-max normalised first.
                if (!c.FeaturesNormalized) { chain = chain.Append<ITransformer>(c.ML.Transforms.NormalizeMinMax(Features, features)); features = Features; }
                return chain.Append<ITransformer>(t.LbfgsMaximumEntropy(Leaderboard.LinearDefaults.Options(c.Label, features)));
            default:
                var o = new FusionMlpOptions { FeatureColumnName = features };
                if (c.TryValue(s, Width, out var width)) o.HiddenWidths = new[] { width * 4, width };
                if (c.TryValue(s, Dropout, out var dropout)) o.Dropout = dropout;
                return chain.Append<ITransformer>(t.FusionMlp(c.Neural(o, s, multimodal: false)));
        }
    }
}
