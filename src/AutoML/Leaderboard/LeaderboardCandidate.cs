using Microsoft.ML;
using Microsoft.ML.Trainers.LightGbm;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Training;

namespace MLNetFusion.AutoML.Leaderboard;

/// <summary>What a leaderboard entry is.</summary>
public enum CandidateKind
{
    /// <summary>What an ML.NET user writes first (one-hot, normalised numbers, <c>FeaturizeText</c>, pixels → a linear model or LightGBM), or the plain model of one modality.</summary>
    Baseline,
    /// <summary>One modality through the encoder the fusion families use.</summary>
    SingleModality,
    /// <summary>A fusion family.</summary>
    Fusion,
    /// <summary>Ensemble selection over the other entries.</summary>
    Ensemble,
}

/// <summary>One leaderboard candidate: what it is, and how to build its estimator on featurized data.</summary>
/// <param name="Kind">Baseline, single modality or fusion.</param>
/// <param name="Family">The fusion family, or <c>null</c> for baselines and single modalities.</param>
/// <param name="Name">A short description of the configuration.</param>
/// <param name="Build">Builds the estimator (it reads the featurized columns and the key label).</param>
public sealed record LeaderboardCandidate(CandidateKind Kind, FusionFamily? Family, string Name, Func<LeaderboardContext, IEstimator<ITransformer>> Build)
{
    /// <summary>A late-fusion candidate's combiner, or <c>null</c>.</summary>
    public Trainers.LateFusion.LateFusionCombiner? Combiner { get; init; }

    /// <summary>The family's name, or <c>baseline</c> / <c>single</c>.</summary>
    public string FamilyName => Family?.Name() ?? (Kind == CandidateKind.Baseline ? "baseline" : Kind == CandidateKind.Ensemble ? "ensemble" : "single");
}

/// <summary>What a candidate is built from: the context, the featurization, the group column, epochs and a progress callback.</summary>
/// <param name="ML">The context (its log and seed are the caller's).</param>
/// <param name="Featurization">The featurized columns and modalities (<see cref="ColumnInferenceResult.CreateFeaturizer"/>).</param>
/// <param name="GroupColumnName">The group column, or <c>null</c>; late fusion's folds are made of whole groups.</param>
/// <param name="Epochs">Epochs of the neural candidates.</param>
/// <param name="Progress">Receives the share of the fit done (0 to 1) and a stage such as <c>epoch 3/15</c>; may be <c>null</c>.</param>
public sealed record LeaderboardContext(MLContext ML, FusionFeaturization Featurization, string? GroupColumnName, int Epochs, Action<double, string>? Progress)
{
    /// <summary>The key label column.</summary>
    public string Label => Featurization.LabelColumnName;

    /// <summary>
    /// Epochs without a better validation loss before a neural candidate stops and keeps its best epoch (0: every epoch
    /// runs). Default 0 (<see cref="FusionCandidates.Defaults.EarlyStoppingPatience"/>).
    /// </summary>
    public int EarlyStoppingPatience { get; init; } = FusionCandidates.Defaults.EarlyStoppingPatience;

    /// <summary>
    /// <paramref name="options"/> with what every neural candidate shares: the key label, <see cref="Epochs"/>, the
    /// progress callback and, with <see cref="EarlyStoppingPatience"/>, early stopping on a tenth of its training rows.
    /// </summary>
    /// <param name="options">A TorchSharp trainer's options.</param>
    /// <param name="progress">Per-epoch progress; <c>null</c> takes <see cref="EpochProgress"/>.</param>
    public T Neural<T>(T options, Action<EpochReport>? progress = null) where T : TorchTrainerOptions
    {
        ArgumentNullException.ThrowIfNull(options);
        options.LabelColumnName = Label;
        options.Epochs = Epochs;
        options.Progress = progress ?? EpochProgress;
        if (EarlyStoppingPatience > 0)
        {
            options.EarlyStoppingPatience = EarlyStoppingPatience;
            options.ValidationFraction = FusionCandidates.Defaults.EarlyStoppingValidationFraction;
        }
        return options;
    }

    /// <summary>Late-fusion member fits shared by every candidate fitted on the same rows (one instance per training set of the leaderboard).</summary>
    internal SharedMemberFits? LateFusionFits { get; init; }

    /// <summary>Fresh copies of the modality options.</summary>
    public List<ModalityOptions> Modalities() => Featurization.Modalities.Select(m => m.Clone()).ToList();

    /// <summary>Per-epoch progress of a TorchSharp trainer as a share of its fit.</summary>
    public Action<EpochReport>? EpochProgress => Progress == null ? null : r => Progress((double)r.Epoch / r.Epochs, $"epoch {r.Epoch}/{r.Epochs}, loss {r.TrainLoss:F3}");

    /// <summary>
    /// Late-fusion members: a CNN per image and spectrogram (MLNetFusion's single-modality network), L-BFGS maximum
    /// entropy on the tabular columns and on each text column's n-grams (with its pretrained sentence embeddings when the
    /// featurization has them).
    /// </summary>
    public List<LateFusionMember> LateFusionMembers(Action<EpochReport>? progress = null)
        => LateFusionMemberRecipe.Create(ML, Label, Featurization.Modalities, (m, _) => Neural(new Trainers.Network.NetworkFusionOptions { Modalities = new() { m } }, progress),
            linearFeatureColumns: Featurization.PretrainedFeatureColumns);
}

/// <summary>
/// The one definition of the leaderboard's linear model: ML.NET's <c>LbfgsMaximumEntropy</c> with its defaults, but at
/// most 200 iterations (ML.NET's default runs until a 1e-7 tolerance, which on 20,000 rows of pixels, spectrograms and
/// n-grams took a quarter of an hour for one fit).
/// </summary>
public static class LinearDefaults
{
    /// <summary>L-BFGS iterations at most.</summary>
    public const int MaximumIterations = 200;

    /// <summary>The options for <paramref name="label"/> and <paramref name="features"/>.</summary>
    public static Microsoft.ML.Trainers.LbfgsMaximumEntropyMulticlassTrainer.Options Options(string label, string features) => new()
    {
        LabelColumnName = label, FeatureColumnName = features, MaximumNumberOfIterations = MaximumIterations,
    };
}

/// <summary>The one definition of MLNetFusion's LightGBM settings, used by the leaderboard's baselines and members and by the sweep.</summary>
public static class LightGbmDefaults
{
    /// <summary>Boosting rounds.</summary>
    public const int Iterations = 100;
    /// <summary>Leaves per tree.</summary>
    public const int Leaves = 15;
    /// <summary>Rows per leaf at least.</summary>
    public const int MinimumRowsPerLeaf = 10;
    /// <summary>Learning rate.</summary>
    public const double LearningRate = 0.1;
    /// <summary>Share of features per tree (wide concatenations of pixels, spectrograms and n-grams).</summary>
    public const double FeatureFraction = 0.5;

    /// <summary>The options for <paramref name="label"/> and <paramref name="features"/>.</summary>
    public static LightGbmMulticlassTrainer.Options Options(string label, string features, int seed) => new()
    {
        LabelColumnName = label, FeatureColumnName = features, NumberOfIterations = Iterations, NumberOfLeaves = Leaves, MinimumExampleCountPerLeaf = MinimumRowsPerLeaf,
        LearningRate = LearningRate, Seed = seed, NumberOfThreads = Environment.ProcessorCount,
        Booster = new GradientBooster.Options { FeatureFraction = FeatureFraction },
    };
}
