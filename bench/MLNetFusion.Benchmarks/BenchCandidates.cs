using System.Diagnostics;
using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Data;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers;
using MLNetFusion.Training;

namespace MLNetFusion.Benchmarks;

/// <summary>One candidate as the benchmarks train it: a family and the estimator it builds on featurized data.</summary>
/// <param name="Family">The fusion family, or <c>null</c> for a baseline or a single modality.</param>
/// <param name="Name">A short description of the configuration.</param>
/// <param name="Build">Builds the estimator; the callback receives the share of the fit done (0 to 1) and a stage such as <c>epoch 3/15</c>.</param>
internal sealed record Candidate(FusionFamily? Family, string Name, Func<MLContext, MultimodalDataset, Action<double, string>?, IEstimator<ITransformer>> Build)
{
    /// <summary>The family's name, or <c>single</c>.</summary>
    public string FamilyName => Family?.Name() ?? "single";
}

/// <summary>The library's leaderboard candidates (<see cref="FusionCandidates"/>) as the benchmarks use them.</summary>
internal static class Candidates
{
    /// <summary>Epochs used by the neural families: the library's default.</summary>
    public const int Epochs = FusionCandidates.Defaults.Epochs;

    /// <summary>Per-epoch progress of a TorchSharp trainer as a share of its fit.</summary>
    public static Action<EpochReport>? EpochProgress(Action<double, string>? progress)
        => progress == null ? null : r => progress((double)r.Epoch / r.Epochs, $"epoch {r.Epoch}/{r.Epochs}, loss {r.TrainLoss:F3}");

    /// <summary>The baselines and fusion families of <see cref="FusionCandidates.Default"/> for <paramref name="ds"/> (no single modalities).</summary>
    public static IReadOnlyList<Candidate> All(MultimodalDataset ds, int epochs = Epochs)
        => FusionCandidates.Default(ds.Featurization, ds.GroupColumn, includeSingles: false)
            .Select(c => new Candidate(c.Family, c.Name, (ml, d, p) => (CandidateContext.For(ml, d.Featurization, d.GroupColumn) with { Progress = p }).Build(c.Settings.WithEpochs(epochs)))).ToList();
}

/// <summary>One candidate's result on the test split.</summary>
internal sealed record CandidateResult(string Family, string Name, double Accuracy, double MacroF1, double LogLoss, TimeSpan TrainingTime);

/// <summary>Trains candidates on featurized data and evaluates them on the test split, or by leave-one-group-out.</summary>
internal static class CandidateRunner
{
    /// <summary>Trains and evaluates one candidate on the test split.</summary>
    public static CandidateResult Run(MLContext ml, MultimodalDataset ds, Candidate c, IDataView train, IDataView test)
    {
        var sw = Stopwatch.StartNew();
        var model = c.Build(ml, ds, null).Fit(train);
        sw.Stop();
        try
        {
            var m = ml.MulticlassClassification.Evaluate(model.Transform(test), ds.LabelColumn);
            return new CandidateResult(c.FamilyName, c.Name, m.MicroAccuracy, FusionMetrics.MacroF1(m), m.LogLoss, sw.Elapsed);
        }
        finally
        {
            (model as IDisposable)?.Dispose(); // a TransformerChain disposes its links
        }
    }

    /// <summary>Leave-one-group-out on <paramref name="train"/>: each group's accuracy when the others train.</summary>
    public static Dictionary<string, double> LeaveOneGroupOut(MLContext ml, MultimodalDataset ds, Candidate c, IDataView train, SamplingKeyGroups groups)
    {
        var result = new Dictionary<string, double>();
        foreach (var (group, foldTrain, foldTest) in groups.LeaveOneGroupOut(train))
        {
            var model = c.Build(ml, ds, null).Fit(ml.Data.Cache(foldTrain));
            try { result[group] = ml.MulticlassClassification.Evaluate(model.Transform(foldTest), ds.LabelColumn).MicroAccuracy; }
            finally { (model as IDisposable)?.Dispose(); }
        }
        return result;
    }

    /// <summary>
    /// The sweep through the experiment API, as a user writes it: validation by <paramref name="folds"/>-fold
    /// cross-validation (whole groups with <paramref name="grouped"/>) or a 20% hold-out; the best refitted on all of
    /// <paramref name="train"/> and evaluated on <paramref name="test"/>.
    /// </summary>
    public static (FusionExperimentResult Result, double TestAccuracy, FusionExperiment Experiment) Sweep(MLContext ml, MultimodalDataset ds, IDataView train, IDataView test,
        TimeSpan budget, IFusionTuner tuner, int seed, int folds = 0, bool grouped = false)
    {
        var experiment = ml.Fusion().CreateExperiment();
        if (folds > 1) experiment.SetDataset(train, folds, grouped ? ds.GroupColumn : null);
        else
        {
            var split = ml.Data.TrainTestSplit(train, testFraction: 0.2, seed: seed);
            experiment.SetDataset(split.TrainSet, split.TestSet);
        }
        experiment.SetModalities(ds.Modalities().ToArray())
            .SetMulticlassClassificationMetric(FusionMetric.Accuracy, ds.LabelColumn)
            .SetTrainingTimeInSeconds((uint)Math.Max(1, budget.TotalSeconds))
            .SetTuner(tuner)
            .SetSeed(seed)
            .SetRefit();
        var result = experiment.RunAsync().GetAwaiter().GetResult();
        return (result, ml.MulticlassClassification.Evaluate(result.Model.Transform(test), ds.LabelColumn).MicroAccuracy, experiment);
    }
}
