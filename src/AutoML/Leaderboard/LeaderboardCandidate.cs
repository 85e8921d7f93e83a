using Microsoft.ML.Trainers.LightGbm;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.LateFusion;

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

/// <summary>
/// One leaderboard candidate: what it is, its name, and its settings (a family and parameter values), which the
/// candidate engine builds as it builds a sweep trial (<see cref="CandidateContext.Build"/>). A parameter the settings
/// leave out takes the trainer's own default.
/// </summary>
/// <param name="Kind">Baseline, single modality or fusion.</param>
/// <param name="Name">A short description of the configuration.</param>
/// <param name="Settings">The family and its parameter values.</param>
public sealed record LeaderboardCandidate(CandidateKind Kind, string Name, FusionTrialSettings Settings)
{
    /// <summary>A candidate of <paramref name="family"/> with <paramref name="parameters"/> (parameter names and values, as <see cref="SweepParameters"/> declares them).</summary>
    public static LeaderboardCandidate Of(CandidateKind kind, string name, FusionFamily family, params (ISweepParameter Parameter, object Value)[] parameters)
        => new(kind, name, new FusionTrialSettings(0, family, parameters.ToDictionary(p => p.Parameter.Name, p => p.Value)));

    /// <summary>The fusion family, or <c>null</c> for baselines and single modalities (which are built as early and network fusion).</summary>
    public FusionFamily? Family => Kind == CandidateKind.Fusion ? Settings.Family : null;

    /// <summary>A late-fusion candidate's combiner, or <c>null</c>.</summary>
    public LateFusionCombiner? Combiner => Settings.Family == FusionFamily.Late && SweepParameters.LateCombiner.TryGet(Settings.Parameters, out var c) ? c : null;

    /// <summary>The family's name, or <c>baseline</c> / <c>single</c>.</summary>
    public string FamilyName => Family?.Name() ?? (Kind == CandidateKind.Baseline ? "baseline" : Kind == CandidateKind.Ensemble ? "ensemble" : "single");
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
