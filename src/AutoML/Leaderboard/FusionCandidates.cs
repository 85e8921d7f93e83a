using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.Hybrid;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Training;

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

    /// <summary>The column early fusion concatenates into.</summary>
    public const string Features = "Features";

    /// <summary>A late-fusion fit's progress: which member fit of how many, and the running member's epochs.</summary>
    private sealed class LateProgress(Action<double, string> report)
    {
        private LateFusionProgress _at = new(0, 1, "", null, TimeSpan.Zero);
        public void Step(LateFusionProgress p) { _at = p; Report(0, null); }
        public void Epoch(EpochReport r) => Report((double)r.Epoch / r.Epochs, $"epoch {r.Epoch}/{r.Epochs}");
        private void Report(double within, string? epoch)
        {
            var p = _at;
            string where = p.Step >= p.Steps ? "combining" : (p.Fold is int f ? $"fold {f}: " : "final: ") + $"member {p.Member} (fit {p.Step + 1}/{p.Steps})";
            report((p.Step + within) / Math.Max(1, p.Steps), epoch == null ? where : $"{where}, {epoch}");
        }
    }

    private static LeaderboardCandidate Late(LateFusionCombiner combiner, string name) => new(CandidateKind.Fusion, FusionFamily.Late, name, c =>
    {
        var tracker = c.Progress == null ? null : new LateProgress(c.Progress);
        return c.ML.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions
        {
            Members = c.LateFusionMembers(tracker == null ? null : tracker.Epoch), Combiner = combiner, NumberOfFolds = Defaults.LateFusionFolds,
            SamplingKeyColumnName = c.GroupColumnName, LabelColumnName = c.Label, Progress = tracker == null ? null : tracker.Step,
            SharedFits = c.LateFusionFits,   // the five combiners share one set of member fits and folds per training set
        });
    }) { Combiner = combiner };

    // " (a; b)" of the parts that apply, or nothing.
    private static string Parenthesised(params string?[] parts) => parts.OfType<string>().ToList() is { Count: > 0 } p ? $" ({string.Join("; ", p)})" : "";

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
            new(CandidateKind.Baseline, null, "Concatenate (one-hot, normalised numbers, FeaturizeText, pixels, log-mel) + L-BFGS maximum entropy", c =>
                c.ML.Transforms.Concatenate(Features, c.Featurization.FeatureColumns.ToArray())
                    .Append(c.ML.MulticlassClassification.Trainers.LbfgsMaximumEntropy(LinearDefaults.Options(c.Label, Features)))),
            // LightGBM bins every feature: on a vocabulary-wide n-gram vector (hundreds of thousands of slots on real
            // text) that takes gigabytes and minutes, so it reads each text as its bounded hashed bag of words.
            new(CandidateKind.Baseline, null, hasText ? "Concatenate (text as hashed words) + LightGBM" : "Concatenate + LightGBM", c =>
                c.ML.Transforms.Concatenate(Features, c.Featurization.DenseFeatureColumns.ToArray())
                    .Append(c.ML.MulticlassClassification.Trainers.LightGbm(LightGbmDefaults.Options(c.Label, Features, seed: 1)))),
        };
        // The next thing a user writes once pretrained embeddings are at hand: the same concatenation with them, into L-BFGS.
        if (featurization.PretrainedNames is { } pretrainedNames)
            list.Add(new(CandidateKind.Baseline, null, $"Concatenate (… with {pretrainedNames}) + L-BFGS maximum entropy", c =>
                c.ML.Transforms.Concatenate(Features, c.Featurization.PretrainedFeatureColumns.ToArray())
                    .Append(c.ML.MulticlassClassification.Trainers.LbfgsMaximumEntropy(LinearDefaults.Options(c.Label, Features)))));
        // The best plain model per modality, as its kind says (IModalityKind.Baseline): LightGBM on the tabular columns, a
        // linear model on each text's n-grams; then a linear model on its pretrained features where it has them (with
        // the n-grams for a text, alone for an image: a linear probe).
        for (int index = 0; index < featurization.Modalities.Count; index++)
        {
            var m = featurization.Modalities[index];
            var baseline = ModalityRegistry.Get(m.Kind).Baseline;
            if (baseline == PlainBaseline.LightGbm)
                list.Add(new(CandidateKind.Baseline, null, $"{m.Name} only: LightGBM", c =>
                    c.ML.MulticlassClassification.Trainers.LightGbm(LightGbmDefaults.Options(c.Label, m.FeaturesColumn, seed: 1))));
            bool ngrams = baseline == PlainBaseline.Linear && m.FeaturesColumnName != null;
            if (ngrams)
                list.Add(new(CandidateKind.Baseline, null, $"{m.Name} only: n-grams + L-BFGS maximum entropy", c =>
                    c.ML.MulticlassClassification.Trainers.LbfgsMaximumEntropy(LinearDefaults.Options(c.Label, m.FeaturesColumn))));
            string withEmbeddings = featurization.PretrainedFeatureColumns[index];
            if (featurization.PretrainedEncoderNames.ElementAtOrDefault(index) is { } encoder && withEmbeddings != m.FeaturesColumn)
                list.Add(new(CandidateKind.Baseline, null, $"{m.Name} only: {encoder}{(ngrams ? " + n-grams" : "")} + L-BFGS maximum entropy", c =>
                    c.ML.MulticlassClassification.Trainers.LbfgsMaximumEntropy(LinearDefaults.Options(c.Label, withEmbeddings))));
        }
        list.AddRange(new[]
        {
            Late(LateFusionCombiner.Average, "average of member probabilities"),
            Late(LateFusionCombiner.WeightedAverage, $"weights fitted out-of-fold ({folds})"),
            Late(LateFusionCombiner.ProductOfExperts, "product of experts"),
            Late(LateFusionCombiner.MajorityVote, "majority vote"),
            Late(LateFusionCombiner.Stacking, $"stacking out-of-fold ({folds}), L-BFGS meta-learner"),
            new(CandidateKind.Fusion, FusionFamily.Early, "Concatenate + FusionMlp" + Parenthesised(featurization.PretrainedNames is { } embedded ? $"with {embedded}" : null, hasText ? "text as hashed words" : null), c =>
                c.ML.Transforms.Concatenate(Features, c.Featurization.PretrainedDenseFeatureColumns.ToArray())
                    .Append(c.ML.MulticlassClassification.Trainers.FusionMlp(c.Neural(new FusionMlpOptions { HiddenWidths = new[] { 256, 64 }, Dropout = 0.3 })))),
            new(CandidateKind.Fusion, FusionFamily.Merge, "attention over encoder embeddings", c =>
                c.ML.MulticlassClassification.Trainers.MergeFusion(c.Neural(new MergeFusionOptions { Modalities = c.Modalities(), Operation = MergeOperation.Attention }))),
            new(CandidateKind.Fusion, FusionFamily.Network, "concatenated encoder layers", c =>
                c.ML.MulticlassClassification.Trainers.NetworkFusion(c.Neural(new NetworkFusionOptions { Modalities = c.Modalities() }))),
            new(CandidateKind.Fusion, FusionFamily.CrossModal, "cross-attention, one exchange", c =>
                c.ML.MulticlassClassification.Trainers.CrossModalFusion(c.Neural(new CrossModalFusionOptions { Modalities = c.Modalities(), Depth = 1 }))),
        });
        // Hybrid: the trees stay on the tabular columns, where they are strongest, and the network adds the other
        // modalities (images, audio, text) beside the trees' out-of-fold probabilities.
        int tabularIndex = featurization.Modalities.ToList().FindIndex(m => m.Kind == ModalityKind.Tabular);
        if (tabularIndex >= 0 && featurization.Modalities.Count > 1)
        {
            string tabular = featurization.Modalities[tabularIndex].FeaturesColumn;
            string hybridFolds = groupColumnName != null ? $"{HybridFusionOptions.Defaults.NumberOfFolds} folds of whole '{groupColumnName}' groups" : $"{HybridFusionOptions.Defaults.NumberOfFolds} folds";
            list.Add(new(CandidateKind.Fusion, FusionFamily.Hybrid, $"LightGBM on the tabular columns (out-of-fold probabilities, {hybridFolds}) + network over the other encoders", c =>
                c.ML.MulticlassClassification.Trainers.HybridFusion(new HybridFusionOptions
                {
                    BoostedTrainer = c.ML.MulticlassClassification.Trainers.LightGbm(LightGbmDefaults.Options(c.Label, tabular, seed: 1)),
                    BoostedFeatureColumnName = tabular,
                    BoostedName = featurization.Modalities[tabularIndex].Name + " (LightGBM)",
                    Network = c.Neural(new NetworkFusionOptions
                    {
                        Modalities = c.Modalities().Where(m => m.Kind != ModalityKind.Tabular).ToList(), SamplingKeyColumnName = c.GroupColumnName,
                    }),
                })));
        }
        if (includeSingles)
            for (int i = 0; i < featurization.Modalities.Count; i++)
            {
                // A modality that can be missing (an empty text) cannot predict its rows alone; its fixed features (text
                // as a bounded hashed bag of words, zero for an empty text; an image's pretrained features, zero for no
                // image) can, through the same network with an MLP encoder.
                var m = featurization.Modalities[i];
                var alone = m.FeaturesColumnName == null ? m.Clone() : ModalityOptions.Tabular(featurization.PretrainedDenseFeatureColumns[i], m.Name, 64, 32);
                string? encoder = featurization.PretrainedEncoderNames.ElementAtOrDefault(i);
                string how = m.FeaturesColumnName == null ? "same encoder"
                    : m.Kind != ModalityKind.Text ? $"its {encoder ?? "fixed features"}, MLP"
                    : encoder != null ? $"its hashed words and {encoder}, MLP" : "its hashed words, MLP";
                list.Add(new(CandidateKind.SingleModality, null, $"{m.Name} only ({how})", c => c.ML.MulticlassClassification.Trainers.NetworkFusion(
                    c.Neural(new NetworkFusionOptions { Modalities = new() { alone.Clone() } }))));
            }
        return list;
    }
}
