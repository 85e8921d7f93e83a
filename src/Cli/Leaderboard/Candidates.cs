using Microsoft.ML;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Training;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>One entry of the leaderboard: a fusion family and the estimator that trains it on featurized data.</summary>
/// <param name="Family">The fusion family, or <c>null</c> for a single-modality baseline.</param>
/// <param name="Name">A short description of the configuration.</param>
/// <param name="Build">Builds the estimator; the callback receives the share of the fit done (0 to 1) and a stage such as <c>epoch 3/15</c>.</param>
public sealed record Candidate(FusionFamily? Family, string Name, Func<MLContext, MultimodalDataset, Action<double, string>?, IEstimator<ITransformer>> Build)
{
    /// <summary>The family's name (<see cref="FusionFamilies.Name"/>), or <c>single</c> for a single-modality baseline.</summary>
    public string FamilyName => Family?.Name() ?? "single";
}

/// <summary>The candidates the main command trains: every fusion family available, with documented defaults.</summary>
public static class Candidates
{
    /// <summary>Epochs used by the neural families in the main job.</summary>
    public const int Epochs = 15;

    /// <summary>Per-epoch progress of a TorchSharp trainer as a share of its fit.</summary>
    public static Action<EpochReport>? EpochProgress(Action<double, string>? progress)
        => progress == null ? null : r => progress((double)r.Epoch / r.Epochs, $"epoch {r.Epoch}/{r.Epochs}, loss {r.TrainLoss:F3}");

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

    private static Candidate Late(LateFusionCombiner combiner, string name, int epochs) => new(FusionFamily.Late, name, (ml, ds, progress) =>
    {
        var tracker = progress == null ? null : new LateProgress(progress);
        return ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions
        {
            Members = ds.LateFusionMembers(ml, epochs, tracker == null ? null : tracker.Epoch), Combiner = combiner, NumberOfFolds = 3,
            SamplingKeyColumnName = ds.GroupColumn, LabelColumnName = ds.LabelColumn, Progress = tracker == null ? null : tracker.Step,
        });
    });

    private static string Folds(MultimodalDataset ds) => ds.GroupColumn != null ? $"3 folds of whole '{ds.GroupColumn}' groups" : "3 folds";

    /// <summary>All candidates for <paramref name="ds"/> (their descriptions say how this dataset is split).</summary>
    public static IReadOnlyList<Candidate> All(MultimodalDataset ds, int epochs = Epochs) => new Candidate[]
    {
        Late(LateFusionCombiner.Average, "average of member probabilities", epochs),
        Late(LateFusionCombiner.WeightedAverage, $"weights fitted out-of-fold ({Folds(ds)})", epochs),
        Late(LateFusionCombiner.ProductOfExperts, "product of experts", epochs),
        Late(LateFusionCombiner.MajorityVote, "majority vote", epochs),
        Late(LateFusionCombiner.Stacking, $"stacking out-of-fold ({Folds(ds)}), L-BFGS meta-learner", epochs),
        new(FusionFamily.Early, "Concatenate + LightGBM", (ml, d, _) =>
            ml.Transforms.Concatenate(MultimodalDataset.Features, d.FeatureColumns.ToArray())
              .Append(ml.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
              {
                  LabelColumnName = d.LabelColumn, FeatureColumnName = MultimodalDataset.Features,
                  NumberOfIterations = 60, NumberOfLeaves = 15, MinimumExampleCountPerLeaf = 10, LearningRate = 0.15, Seed = 1,
                  NumberOfThreads = Environment.ProcessorCount,
                  Booster = new Microsoft.ML.Trainers.LightGbm.GradientBooster.Options { FeatureFraction = 0.3 },
              }))),
        new(FusionFamily.Early, "Concatenate + FusionMlp", (ml, d, progress) =>
            ml.Transforms.Concatenate(MultimodalDataset.Features, d.DenseFeatureColumns.ToArray())
              .Append(ml.MulticlassClassification.Trainers.FusionMlp(new FusionMlpOptions
              {
                  LabelColumnName = d.LabelColumn, Epochs = epochs, Progress = EpochProgress(progress), HiddenWidths = new[] { 256, 64 }, Dropout = 0.3,
              }))),
        new(FusionFamily.Merge, "attention over encoder embeddings", (ml, d, progress) =>
            ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions
            {
                Modalities = d.Modalities(), Operation = MergeOperation.Attention, Epochs = epochs, Progress = EpochProgress(progress), LabelColumnName = d.LabelColumn,
            })),
        new(FusionFamily.Network, "concatenated encoder layers", (ml, d, progress) =>
            ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions
            {
                Modalities = d.Modalities(), Epochs = epochs, Progress = EpochProgress(progress), LabelColumnName = d.LabelColumn,
            })),
        new(FusionFamily.CrossModal, "cross-attention, one exchange", (ml, d, progress) =>
            ml.MulticlassClassification.Trainers.CrossModalFusion(new CrossModalFusionOptions
            {
                Modalities = d.Modalities(), Depth = 1, Epochs = epochs, Progress = EpochProgress(progress), LabelColumnName = d.LabelColumn,
            })),
    };
}
