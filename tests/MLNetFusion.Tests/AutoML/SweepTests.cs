using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers;
using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.AutoML.Sweep;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>The sweep on the generated default dataset (featurized once for the class).</summary>
public class SweepTests : IClassFixture<SweepTests.Featurized>
{
    /// <summary>The generated dataset, featurized once: training rows split 80/20 into train and validation, plus the test split.</summary>
    public sealed class Featurized
    {
        public Featurized()
        {
            Ml = new MLContext(seed: 1);
            Dataset = MultimodalDataset.Synthetic(TestData.SyntheticFolder);
            var (train, test, _) = Dataset.Featurize(Ml);
            var split = Ml.Data.TrainTestSplit(train, testFraction: 0.2, seed: 1);
            Train = Ml.Data.Cache(split.TrainSet); Validation = Ml.Data.Cache(split.TestSet); Test = test;
            SmallTrain = Ml.Data.Cache(Ml.Data.TakeRows(Train, 320)); SmallValidation = Ml.Data.Cache(Ml.Data.TakeRows(Validation, 120));
        }
        public MLContext Ml { get; }
        public MultimodalDataset Dataset { get; }
        public IDataView Train { get; }
        public IDataView Validation { get; }
        public IDataView Test { get; }
        /// <summary>The first 320 training and 120 validation rows: for the tests of the sweep's mechanics, which assert no accuracy.</summary>
        public IDataView SmallTrain { get; }
        public IDataView SmallValidation { get; }
    }

    private readonly Featurized _data;
    public SweepTests(Featurized data) => _data = data;

    /// <summary>A small space: few epochs so a trial takes seconds.</summary>
    private static FusionSearchSpace Small(params FusionFamily[] families) => new()
    {
        Families = families.ToList(),
        Epochs = new NumericRange(2, 4, 3, integer: true),
        Width = new Choice<int>(32),
        LateMembers = new Choice<LateFusionMemberKind>(LateFusionMemberKind.Linear),
    };

    private FusionExperiment Experiment(FusionSearchSpace space, int seed = 3, bool small = true)
        => new MLContext(seed: 1).Fusion().CreateExperiment()
            .SetDataset(small ? _data.SmallTrain : _data.Train, small ? _data.SmallValidation : _data.Validation)
            .SetModalities(_data.Dataset.Modalities().ToArray())
            .SetMulticlassClassificationMetric(FusionMetric.Accuracy)
            .SetSearchSpace(space)
            .SetSeed(seed);

    private static void DisposeAll(FusionExperimentResult r)
    {
        foreach (var t in (IEnumerable<ITransformer>)r.Model) (t as IDisposable)?.Dispose();
        if (r.BestTrial.Model is IEnumerable<ITransformer> chain) foreach (var t in chain) (t as IDisposable)?.Dispose();
    }

    [Fact]
    public async Task TheSameSeedGivesTheSameLeaderboard()
    {
        var space = Small(FusionFamily.Early, FusionFamily.Merge, FusionFamily.Late);
        var a = await Experiment(space).SetRandomSearchTuner().SetMaxTrials(4).RunAsync();
        var b = await Experiment(space).SetRandomSearchTuner().SetMaxTrials(4).RunAsync();
        Assert.Equal(a.Trials.Select(t => t.Settings.ToString()), b.Trials.Select(t => t.Settings.ToString()));
        Assert.Equal(a.Trials.Select(t => t.Accuracy), b.Trials.Select(t => t.Accuracy));
        Assert.Equal(a.BestTrial.Settings.ToString(), b.BestTrial.Settings.ToString());
        var c = await Experiment(space, seed: 4).SetRandomSearchTuner().SetMaxTrials(4).RunAsync();
        Assert.NotEqual(a.Trials.Select(t => t.Settings.ToString()), c.Trials.Select(t => t.Settings.ToString()));
        DisposeAll(a); DisposeAll(b); DisposeAll(c);
    }

    [Fact]
    public async Task TheTimeBudgetIsHonouredWithinOneTrial()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await Experiment(Small(FusionFamily.Merge, FusionFamily.Network, FusionFamily.CrossModal)).SetRandomSearchTuner().SetTrainingTimeInSeconds(20).RunAsync();
        var elapsed = watch.Elapsed;
        var longest = result.Trials.Max(t => t.Duration);
        Assert.True(result.Trials.Count >= 2, $"only {result.Trials.Count} trials in 20 s");
        Assert.True(elapsed <= TimeSpan.FromSeconds(20) + longest + TimeSpan.FromSeconds(3), $"ran {elapsed} for a 20 s budget (longest trial {longest})");
        Assert.Equal(FusionTrialStatus.Completed, result.BestTrial.Status);
        DisposeAll(result);
    }

    private sealed class CancelInSecondTrial(CancellationTokenSource cts) : IFusionMonitor
    {
        private int _completed;
        public void ReportCompletedTrial(FusionTrialResult result) => _completed++;
        public void ReportEpoch(FusionTrialSettings settings, MLNetFusion.Training.EpochReport report) { if (_completed == 1) cts.Cancel(); }
    }

    [Fact]
    public async Task CancellationStopsTheRunningTrialAndReturnsTheBestSoFar()
    {
        // Cancelled at the first epoch of the second trial (not after a delay, which a busy machine stretches): that
        // trial stops, no other starts, and the first is returned.
        using var cts = new CancellationTokenSource();
        var experiment = Experiment(Small(FusionFamily.Merge)).SetRandomSearchTuner().SetMaxTrials(50).SetMonitor(new CancelInSecondTrial(cts));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await experiment.RunAsync(cts.Token);
        Assert.Equal(new[] { FusionTrialStatus.Completed, FusionTrialStatus.Stopped }, result.Trials.Select(t => t.Status));
        Assert.Same(result.Trials[0], result.BestTrial);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60));
        DisposeAll(result);

        // Cancelled before any trial completed: there is nothing to return.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Experiment(Small(FusionFamily.Merge)).SetMaxTrials(5).RunAsync(new CancellationToken(true)));
    }

    [Fact]
    public async Task TheCostAwareTunerSpendsFewerEpochsThanGridOnTheSameConfigurations()
    {
        FusionSearchSpace Space()
        {
            var s = Small(FusionFamily.Merge);
            s.MergeOperation = new Choice<MergeOperation>(MergeOperation.Mean, MergeOperation.Sum, MergeOperation.Attention);
            s.Epochs = new NumericRange(2, 6, 6, integer: true);
            return s;
        }
        Assert.Equal(3, GridSearchTuner.Count(Space()));
        var grid = await Experiment(Space()).SetGridSearchTuner().SetMaxTrials(20).RunAsync();
        var halving = await Experiment(Space()).SetTuner(new SuccessiveHalvingTuner(bracketSize: 3, eta: 3, sampler: new GridSearchTuner())).SetMaxTrials(20).RunAsync();
        var gridConfigs = grid.Trials.Select(t => t.Settings.ConfigurationKey).ToHashSet();
        var halvingConfigs = halving.Trials.Select(t => t.Settings.ConfigurationKey).ToHashSet();
        Assert.Equal(gridConfigs, halvingConfigs);
        Assert.Equal(3 * 6, grid.TotalEpochs);
        // Three configurations at 2 epochs, then the best at 6.
        Assert.Equal(3 * 2 + 6, halving.TotalEpochs);
        Assert.True(halving.TotalEpochs < grid.TotalEpochs);
        Assert.Equal(6, halving.Trials.Last().Settings.Epochs);
        DisposeAll(grid); DisposeAll(halving);
    }

    [Fact]
    public async Task NarrowingToOneFamilyOnlyTriesItAndRefitsASavableModel()
    {
        var space = Small(FusionFamily.CrossModal);
        space.Epochs = new NumericRange(6, 8, 8, integer: true);
        var result = await Experiment(space, small: false).SetRandomSearchTuner().SetMaxTrials(2).SetRefit().SetModalityRobustnessWeight(0.5).RunAsync();
        Assert.All(result.Trials, t => Assert.Equal(FusionFamily.CrossModal, t.Settings.Family));
        // Each trial is also measured with its most important modality missing, and ranked by the blend.
        Assert.All(result.Trials, t =>
        {
            Assert.InRange(t.WorstMissingModalityMetric, 0, 1);
            Assert.Equal(0.5 * t.ValidationMetric + 0.5 * t.WorstMissingModalityMetric, t.Metric, 9);
        });
        Assert.True(result.Refitted);
        var metrics = _data.Ml.MulticlassClassification.Evaluate(result.Model.Transform(_data.Test));
        Assert.True(metrics.MicroAccuracy > 0.125 + 0.1, $"refitted cross-modal accuracy {metrics.MicroAccuracy:P1} is not above chance (12.5%) by 10 points");
        // The returned model is a normal pipeline that persistence can save.
        var (loaded, _) = PersistenceTests.RoundTrip(_data.Ml, result.Model, _data.Train.Schema, out _);
        PersistenceTests.AssertSameOutputs(result.Model.Transform(_data.Test), loaded.Transform(_data.Test));
        ((IDisposable)loaded).Dispose();
        DisposeAll(result);
    }

    [Fact]
    // Validation runs before RunAsync returns its task, as argument checks in .NET async methods do.
    public void EmptySpacesAndImpossibleBudgetsAreClearErrors()
    {
        var ex = Assert.Throws<ArgumentException>(() => { _ = Experiment(Small()).SetMaxTrials(1).RunAsync(); });
        Assert.StartsWith("The search space is empty: Families has no fusion family.", ex.Message);
        var space = Small(FusionFamily.Merge);
        space.MergeOperation.Values.Clear();
        var ex2 = Assert.Throws<ArgumentException>(() => { _ = Experiment(space).SetMaxTrials(1).RunAsync(); });
        Assert.StartsWith("The search space is empty for family Merge: parameter 'operation' has no values.", ex2.Message);
        var ex3 = Assert.Throws<ArgumentOutOfRangeException>(() => Experiment(Small(FusionFamily.Merge)).SetTrainingTimeInSeconds(0));
        Assert.StartsWith("A time budget of 0 seconds cannot train any trial.", ex3.Message);
        var ex4 = Assert.Throws<InvalidOperationException>(() => { _ = Experiment(Small(FusionFamily.Merge)).RunAsync(); });
        Assert.StartsWith("The sweep has no budget.", ex4.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Experiment(Small(FusionFamily.Merge)).SetMaxTrials(0));
    }
}

/// <summary>The sweep and the trainers fail fast on data no configuration can learn from.</summary>
public class UnusableDataTests
{
    private static IDataView Toy(MLContext ml, int n, int seed, bool oneClass = false)
    {
        var rows = ToyRow.Make(n, seed);
        if (oneClass) foreach (var r in rows) r.Label = 2;
        return ToyRow.Load(ml, rows);
    }

    [Fact]
    public void OneClassIsAClearErrorInEveryTrainerAndBeforeTheFirstTrial()
    {
        var ml = new MLContext(1);
        var data = Toy(ml, 40, 1, oneClass: true);
        const string expected = "The training data has only one class (key 1, in all 40 labelled rows) in label column 'Label': a classifier needs at least two classes.";
        var e = Assert.Throws<InvalidOperationException>(() => FusionTrainerTests.Make(ml, "network", epochs: 1).Fit(data));
        Assert.StartsWith(expected, e.Message);
        var late = ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions
        {
            Members = new() { new LateFusionMember("tab", "Tab", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Tab")) },
        });
        Assert.StartsWith(expected, Assert.Throws<InvalidOperationException>(() => late.Fit(data)).Message);
        var sweep = ml.Fusion().CreateExperiment().SetDataset(data, Toy(ml, 20, 2)).SetModalities(ModalityOptions.Tabular("Tab", "tab", 16)).SetMaxTrials(50);
        var s = Assert.Throws<AggregateException>(() => sweep.RunAsync().Wait()).InnerException!;
        Assert.StartsWith(expected, s.Message);
    }

    [Fact]
    public void TheSweepStopsWhenEveryTrialFailsTheSameWay()
    {
        var ml = new MLContext(1);
        var trials = new List<FusionTrialResult>();
        // The image shape does not fit the column, so every merge trial fails identically.
        var sweep = ml.Fusion().CreateExperiment().SetDataset(Toy(ml, 60, 1), Toy(ml, 20, 2))
            .SetModalities(ModalityOptions.Image("Image", "image", new[] { 1, 9, 9 }), ModalityOptions.Tabular("Tab", "tab", 16))
            .SetSearchSpace(new FusionSearchSpace { Families = new() { FusionFamily.Merge }, Epochs = new NumericRange(1, 2, 2, integer: true) })
            .SetMaxTrials(200)
            .SetMonitor(trials.Add);
        var e = Assert.Throws<AggregateException>(() => sweep.RunAsync().Wait()).InnerException!;
        Assert.StartsWith($"The sweep stopped: {FusionExperiment.RepeatedFailureLimit} trials in a row failed with the same error and none has completed", e.Message);
        Assert.Contains("Shape [1, 9, 9] holds 81 values, but column 'Image' has 64.", e.Message);
        Assert.Equal(FusionExperiment.RepeatedFailureLimit, trials.Count);
    }
}
