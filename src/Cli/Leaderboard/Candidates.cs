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
/// <param name="Build">Builds the estimator; the callback receives per-epoch progress of TorchSharp trainers.</param>
public sealed record Candidate(FusionFamily? Family, string Name, Func<MLContext, MultimodalDataset, Action<EpochReport>?, IEstimator<ITransformer>> Build)
{
    /// <summary>The family's name (<see cref="FusionFamilies.Name"/>), or <c>single</c> for a single-modality baseline.</summary>
    public string FamilyName => Family?.Name() ?? "single";
}

/// <summary>The candidates the main command trains: every fusion family available, with documented defaults.</summary>
public static class Candidates
{
    /// <summary>Epochs used by the neural families in the main job.</summary>
    public const int Epochs = 15;

    private static Candidate Late(LateFusionCombiner combiner, string name, int epochs) => new(FusionFamily.Late, name, (ml, ds, _) =>
        ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions { Members = ds.LateFusionMembers(ml, epochs), Combiner = combiner, NumberOfFolds = 3,
            SamplingKeyColumnName = ds.GroupColumn }));

    /// <summary>All candidates.</summary>
    public static IReadOnlyList<Candidate> All(int epochs = Epochs) => new Candidate[]
    {
        Late(LateFusionCombiner.Average, "average of member probabilities", epochs),
        Late(LateFusionCombiner.WeightedAverage, "weights fitted on 3-fold out-of-fold (grouped with --group)", epochs),
        Late(LateFusionCombiner.ProductOfExperts, "product of experts", epochs),
        Late(LateFusionCombiner.MajorityVote, "majority vote", epochs),
        Late(LateFusionCombiner.Stacking, "stacking, 3-fold (grouped with --group), L-BFGS meta-learner", epochs),
        new(FusionFamily.Early, "Concatenate + LightGBM", (ml, ds, _) =>
            ml.Transforms.Concatenate(MultimodalDataset.Features, ds.FeatureColumns.ToArray())
              .Append(ml.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
              {
                  NumberOfIterations = 60, NumberOfLeaves = 15, MinimumExampleCountPerLeaf = 10, LearningRate = 0.15, Seed = 1,
                  NumberOfThreads = Environment.ProcessorCount,
                  Booster = new Microsoft.ML.Trainers.LightGbm.GradientBooster.Options { FeatureFraction = 0.3 },
              }))),
        new(FusionFamily.Early, "Concatenate + FusionMlp", (ml, ds, progress) =>
            ml.Transforms.Concatenate(MultimodalDataset.Features, ds.FeatureColumns.ToArray())
              .Append(ml.MulticlassClassification.Trainers.FusionMlp(new FusionMlpOptions { Epochs = epochs, Progress = progress, HiddenWidths = new[] { 256, 64 }, Dropout = 0.3 }))),
        new(FusionFamily.Merge, "attention over encoder embeddings", (ml, ds, progress) =>
            ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions { Modalities = ds.Modalities(), Operation = MergeOperation.Attention, Epochs = epochs, Progress = progress })),
        new(FusionFamily.Network, "concatenated encoder layers", (ml, ds, progress) =>
            ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions { Modalities = ds.Modalities(), Epochs = epochs, Progress = progress })),
        new(FusionFamily.CrossModal, "cross-attention, one exchange", (ml, ds, progress) =>
            ml.MulticlassClassification.Trainers.CrossModalFusion(new CrossModalFusionOptions { Modalities = ds.Modalities(), Depth = 1, Epochs = epochs, Progress = progress })),
    };
}
