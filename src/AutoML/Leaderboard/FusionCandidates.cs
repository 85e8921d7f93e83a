using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.Hybrid;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.AutoML.Sweep;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Leaderboard;

/// <summary>
/// The leaderboard's candidates for a featurization: the plain baselines an ML.NET user writes first, the best plain
/// model per modality, every fusion family with its documented defaults, and each modality alone through the fusion
/// families' encoder.
/// </summary>
public static class FusionCandidates
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Epochs of the neural candidates.</summary>
        public const int Epochs = 15;
        /// <summary>Cross-fitting folds of late fusion's fitted combiners.</summary>
        public const int LateFusionFolds = 3;
        /// <summary>Epochs without a better validation loss before a neural candidate stops (0: every epoch runs).</summary>
        public const int EarlyStoppingPatience = 0;
        /// <summary>Share of a neural candidate's training rows it validates on when it stops early (rows at random).</summary>
        public const double EarlyStoppingValidationFraction = 0.1;
    }

    /// <summary>The early-fusion MLP's width (hidden layers of four times it, then it) and dropout.</summary>
    private const int EarlyMlpWidth = 64;
    private const double EarlyMlpDropout = 0.3;

    private static LeaderboardCandidate Late(LateFusionCombiner combiner, string name) => LeaderboardCandidate.Of(CandidateKind.Fusion, name, FusionFamily.Late, (LateCombiner, combiner));

    // " (a; b)" of the parts that apply, or nothing.
    private static string Parenthesised(params string?[] parts) => parts.OfType<string>().ToList() is { Count: > 0 } p ? $" ({string.Join("; ", p)})" : "";

    private static LeaderboardCandidate Early(CandidateKind kind, string name, EarlyFusionLearner learner, string? modality = null, bool pretrained = false)
    {
        var parameters = new List<(ISweepParameter, object)> { (EarlyLearner, learner) };
        if (modality != null) parameters.Add((SweepParameters.Modalities, modality));
        if (pretrained) parameters.Add((PretrainedFeatures, true));
        return LeaderboardCandidate.Of(kind, name, FusionFamily.Early, parameters.ToArray());
    }

    /// <summary>Every candidate for <paramref name="featurization"/>.</summary>
    /// <param name="featurization">The featurized columns.</param>
    /// <param name="groupColumnName">The group column, or <c>null</c> (only changes how the candidates describe their folds).</param>
    /// <param name="includeSingles">Also train each modality alone through the fusion families' encoder.</param>
    public static IReadOnlyList<LeaderboardCandidate> Default(FusionFeaturization featurization, string? groupColumnName = null, bool includeSingles = true)
    {
        ArgumentNullException.ThrowIfNull(featurization);
        bool hasText = featurization.Modalities.Any(m => m.Kind == ModalityKind.Text);
        string folds = groupColumnName != null ? $"{Defaults.LateFusionFolds} folds of whole '{groupColumnName}' groups" : $"{Defaults.LateFusionFolds} folds";
        var list = new List<LeaderboardCandidate>
        {
            // What an ML.NET user writes first: every modality's fixed features concatenated into a linear model and into LightGBM.
            Early(CandidateKind.Baseline, $"Concatenate ({string.Join(", ", featurization.Modalities.Select(m => ModalityRegistry.Get(m.Kind).PlainFeatures).Distinct())}) + L-BFGS maximum entropy", EarlyFusionLearner.LbfgsMaximumEntropy),
            // LightGBM bins every feature: on a vocabulary-wide n-gram vector (hundreds of thousands of slots on real
            // text) that takes gigabytes and minutes, so it reads each text as its bounded hashed bag of words.
            Early(CandidateKind.Baseline, hasText ? "Concatenate (text as hashed words) + LightGBM" : "Concatenate + LightGBM", EarlyFusionLearner.LightGbm),
        };
        // The next thing a user writes once pretrained embeddings are at hand: the same concatenation with them, into L-BFGS.
        if (featurization.PretrainedNames is { } pretrainedNames)
            list.Add(Early(CandidateKind.Baseline, $"Concatenate (… with {pretrainedNames}) + L-BFGS maximum entropy", EarlyFusionLearner.LbfgsMaximumEntropy, pretrained: true));
        // The best plain model per modality, as its kind says (IModalityKind.Baseline): LightGBM on the tabular columns, a
        // linear model on each text's n-grams; then a linear model on its pretrained features where it has them (with
        // the n-grams for a text, alone for an image: a linear probe).
        for (int index = 0; index < featurization.Modalities.Count; index++)
        {
            var m = featurization.Modalities[index];
            var baseline = ModalityRegistry.Get(m.Kind).Baseline;
            if (baseline == PlainBaseline.LightGbm)
                list.Add(Early(CandidateKind.Baseline, $"{m.Name} only: LightGBM", EarlyFusionLearner.LightGbm, m.Name));
            bool ngrams = baseline == PlainBaseline.Linear && m.FeaturesColumnName != null;
            if (ngrams)
                list.Add(Early(CandidateKind.Baseline, $"{m.Name} only: n-grams + L-BFGS maximum entropy", EarlyFusionLearner.LbfgsMaximumEntropy, m.Name));
            if (featurization.PretrainedEncoderNames.ElementAtOrDefault(index) is { } encoder && featurization.PretrainedFeatureColumns[index] != m.FeaturesColumn)
                list.Add(Early(CandidateKind.Baseline, $"{m.Name} only: {encoder}{(ngrams ? " + n-grams" : "")} + L-BFGS maximum entropy", EarlyFusionLearner.LbfgsMaximumEntropy, m.Name, pretrained: true));
        }
        list.AddRange(new[]
        {
            Late(LateFusionCombiner.Average, "average of member probabilities"),
            Late(LateFusionCombiner.WeightedAverage, $"weights fitted out-of-fold ({folds})"),
            Late(LateFusionCombiner.ProductOfExperts, "product of experts"),
            Late(LateFusionCombiner.MajorityVote, "majority vote"),
            Late(LateFusionCombiner.Stacking, $"stacking out-of-fold ({folds}), L-BFGS meta-learner"),
            LeaderboardCandidate.Of(CandidateKind.Fusion, "Concatenate + FusionMlp" + Parenthesised(featurization.PretrainedNames is { } embedded ? $"with {embedded}" : null, hasText ? "text as hashed words" : null),
                FusionFamily.Early, (EarlyLearner, EarlyFusionLearner.FusionMlp), (PretrainedFeatures, true), (Width, EarlyMlpWidth), (Dropout, EarlyMlpDropout)),
            LeaderboardCandidate.Of(CandidateKind.Fusion, "attention over encoder embeddings", FusionFamily.Merge, (Operation, MergeOperation.Attention)),
            LeaderboardCandidate.Of(CandidateKind.Fusion, "concatenated encoder layers", FusionFamily.Network),
            LeaderboardCandidate.Of(CandidateKind.Fusion, "cross-attention, one exchange", FusionFamily.CrossModal, (CrossModalDepth, 1)),
        });
        // Hybrid: the trees stay on the tabular columns, where they are strongest, and the network adds the other
        // modalities (images, audio, text) beside the trees' out-of-fold probabilities.
        if (featurization.Modalities.Any(m => m.Kind == ModalityKind.Tabular) && featurization.Modalities.Count > 1)
        {
            string hybridFolds = groupColumnName != null ? $"{HybridFusionOptions.Defaults.NumberOfFolds} folds of whole '{groupColumnName}' groups" : $"{HybridFusionOptions.Defaults.NumberOfFolds} folds";
            list.Add(LeaderboardCandidate.Of(CandidateKind.Fusion, $"LightGBM on the tabular columns (out-of-fold probabilities, {hybridFolds}) + network over the other encoders", FusionFamily.Hybrid));
        }
        if (includeSingles)
            for (int i = 0; i < featurization.Modalities.Count; i++)
            {
                // A modality that can be missing (an empty text) is read alone through its fixed features (text as a
                // bounded hashed bag of words, zero for an empty text; an image's pretrained features, zero for no
                // image) by an MLP (CandidateContext.NetworkModalitiesOf).
                var m = featurization.Modalities[i];
                string? encoder = featurization.PretrainedEncoderNames.ElementAtOrDefault(i);
                string how = m.FeaturesColumnName == null ? "same encoder"
                    : m.Kind != ModalityKind.Text ? $"its {encoder ?? "fixed features"}, MLP"
                    : encoder != null ? $"its hashed words and {encoder}, MLP" : "its hashed words, MLP";
                list.Add(LeaderboardCandidate.Of(CandidateKind.SingleModality, $"{m.Name} only ({how})", FusionFamily.Network, (SweepParameters.Modalities, m.Name)));
            }
        return list;
    }
}
