using MLNetFusion.Trainers;
using Microsoft.ML;
using MLNetFusion.Datasets;
using MLNetFusion.AutoML.Sweep;

namespace MLNetFusion.Samples;

/// <summary>
/// An AutoML-style sweep over fusion families: the raw CSV columns go through the feature pipeline, the cost-aware tuner
/// searches a narrowed space for one minute, the best configuration is refitted and saved.
/// Run: <c>dotnet run --project src/Cli -c Release -- sample sweep</c>.
/// </summary>
public static class SweepSample
{
    /// <summary>Runs the sample.</summary>
    public static void Example(int maxEpochs = 12)
    {
        var ml = new MLContext(seed: 1);
        var folder = SyntheticMultimodalDataset.EnsureGenerated(DefaultPaths.SyntheticData);
        var ds = MultimodalDataset.Synthetic(folder);
        var split = ml.Data.TrainTestSplit(ds.Load(ml, ds.TrainFile), testFraction: 0.2, seed: 1);

        var experiment = ml.Fusion().CreateExperiment()
            .SetFeaturePipeline(ds.Featurizer(ml))                       // fitted once on the training rows, cached
            .SetModalities(ds.Modalities().ToArray())
            .SetDataset(split.TrainSet, split.TestSet)
            .SetMulticlassClassificationMetric(FusionMetric.MacroAccuracy, ds.LabelColumn)
            .SetTrainingTimeInSeconds(60)
            .SetCostAwareTuner()
            .SetRefit()
            .SetMonitor(t => Console.WriteLine($"trial {t.Settings.TrialId,2} {t.Status,-9} {t.MacroAccuracy,6:P1}  {t.EpochsTrained,3} epochs  {t.Settings}"));
        // Narrow the space: no early fusion, merge only by attention or mean, at most 12 epochs.
        experiment.SearchSpace.Families.Remove(FusionFamily.Early);
        experiment.SearchSpace.MergeOperation = new Choice<MLNetFusion.Trainers.Merge.MergeOperation>(
            MLNetFusion.Trainers.Merge.MergeOperation.Attention, MLNetFusion.Trainers.Merge.MergeOperation.Mean);
        experiment.SearchSpace.Epochs = new NumericRange(Math.Min(4, maxEpochs), maxEpochs, maxEpochs, integer: true);

        var result = experiment.RunAsync().GetAwaiter().GetResult();
        var test = ml.MulticlassClassification.Evaluate(result.Model.Transform(ds.Load(ml, ds.TestFile)), ds.LabelColumn);
        Console.WriteLine($"Best: {result.BestTrial.Settings}; validation macro-accuracy {result.BestTrial.MacroAccuracy:P1}; " +
            $"refitted test accuracy {test.MicroAccuracy:P1} ({result.Trials.Count} trials, {result.TotalEpochs} epochs).");
        ml.Model.SaveFusionModel(result.Model, split.TrainSet.Schema, DefaultPaths.Artifact("sweep-model.zip"));
        foreach (var t in (IEnumerable<ITransformer>)result.Model) (t as IDisposable)?.Dispose();
        // Expected output: one line per trial (each family's defaults first, then 4-epoch trials, the space's minimum), then the best;
        // measured (seed 1, 2 cores, 73 s in all): 5 trials, 62 epochs, best network fusion at its defaults (12 epochs), validation
        // macro-accuracy 71.6%, refitted test accuracy 55.7%. A one-minute sweep with at most 12 epochs is short: the main
        // leaderboard's 15-epoch models reach 66-72% on this dataset.
    }
}
