using Microsoft.ML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers;
using MLNetFusion.Training;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>One candidate as the benchmarks train it: a family and the estimator it builds on featurized data.</summary>
/// <param name="Family">The fusion family, or <c>null</c> for a baseline or a single modality.</param>
/// <param name="Name">A short description of the configuration.</param>
/// <param name="Build">Builds the estimator; the callback receives the share of the fit done (0 to 1) and a stage such as <c>epoch 3/15</c>.</param>
public sealed record Candidate(FusionFamily? Family, string Name, Func<MLContext, MultimodalDataset, Action<double, string>?, IEstimator<ITransformer>> Build)
{
    /// <summary>The family's name (<see cref="FusionFamilies.Name"/>), or <c>single</c>.</summary>
    public string FamilyName => Family?.Name() ?? "single";
}

/// <summary>The library's leaderboard candidates (<see cref="FusionCandidates"/>) as the benchmarks use them.</summary>
public static class Candidates
{
    /// <summary>Epochs used by the neural families: the library's default.</summary>
    public const int Epochs = FusionCandidates.Defaults.Epochs;

    /// <summary>Per-epoch progress of a TorchSharp trainer as a share of its fit.</summary>
    public static Action<EpochReport>? EpochProgress(Action<double, string>? progress)
        => progress == null ? null : r => progress((double)r.Epoch / r.Epochs, $"epoch {r.Epoch}/{r.Epochs}, loss {r.TrainLoss:F3}");

    /// <summary>The baselines and fusion families of <see cref="FusionCandidates.Default"/> for <paramref name="ds"/> (no single modalities).</summary>
    public static IReadOnlyList<Candidate> All(MultimodalDataset ds, int epochs = Epochs)
        => FusionCandidates.Default(ds.Featurization, ds.GroupColumn, includeSingles: false)
            .Select(c => new Candidate(c.Family, c.Name, (ml, d, p) => c.Build(new LeaderboardContext(ml, d.Featurization, d.GroupColumn, epochs, p)))).ToList();
}
