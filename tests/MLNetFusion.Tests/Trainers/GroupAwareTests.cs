using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.AutoML.Sweep;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Group-aware splitting: folds, validation splits, late fusion, neural validation and the sweep.</summary>
public class GroupAwareTests
{
    private sealed class KeyRow
    {
        public string Text { get; set; } = "";
        public float Number { get; set; }
        [KeyType(50)] public uint Key { get; set; }
    }

    /// <summary><see cref="ToyRow"/> with a site.</summary>
    private sealed class SitedRow
    {
        public uint Label { get; set; }
        [VectorType(1, 8, 8)] public float[] Image { get; set; } = Array.Empty<float>();
        [VectorType(4)] public float[] Tab { get; set; } = Array.Empty<float>();
        public string Site { get; set; } = "";
        public static IEnumerable<SitedRow> Make(int n, int seed, int sites) => ToyRow.Make(n, seed).Select((r, i) => new SitedRow { Label = r.Label, Image = r.Image, Tab = r.Tab, Site = "site" + (i % sites) });
    }

    [Fact]
    public void GroupedSplitsNeverPutOneGroupOnBothSides()
    {
        var ml = new MLContext(seed: 1);
        var rand = new Random(12345);
        for (int layout = 0; layout < 60; layout++)
        {
            int groups = rand.Next(2, 13);
            var sizes = Enumerable.Range(0, groups).Select(_ => rand.Next(1, 40)).ToArray();
            var rows = new List<KeyRow>();
            for (int g = 0; g < groups; g++)
                for (int i = 0; i < sizes[g]; i++)
                    rows.Add(new KeyRow { Text = g == 0 && layout % 3 == 0 ? "" : "g" + g, Number = g == 0 && layout % 3 == 1 ? float.NaN : g * 1.5f, Key = (uint)(g + 1) });
            // Interleave the groups so folds cannot come from contiguous blocks.
            rows = rows.OrderBy(_ => rand.Next()).ToList();
            var data = ml.Data.LoadFromEnumerable(rows);
            string column = new[] { nameof(KeyRow.Text), nameof(KeyRow.Number), nameof(KeyRow.Key) }[layout % 3];
            var read = SamplingKeyGroups.Read(data, column);
            Assert.Equal(groups, read.Count);
            Assert.Equal(rows.Count, read.RowCount);
            int folds = rand.Next(2, groups + 1);
            int seed = rand.Next();
            var foldOfGroup = read.FoldOfGroup(folds, seed);
            // Every row of a group is in its group's fold, every fold has rows, and the row-level split agrees with the group-level one.
            var foldsOfTrueGroup = new Dictionary<uint, HashSet<int>>();
            for (int r = 0; r < rows.Count; r++)
            {
                if (!foldsOfTrueGroup.TryGetValue(rows[r].Key, out var set)) foldsOfTrueGroup[rows[r].Key] = set = new HashSet<int>();
                set.Add(read.FoldOfRow(r, foldOfGroup));
            }
            Assert.All(foldsOfTrueGroup.Values, s => Assert.Single(s));
            Assert.Equal(folds, foldOfGroup.Distinct().Count());
            var held = read.ValidationGroups(rand.NextDouble() * 0.8 + 0.1, seed);
            Assert.Contains(true, held);
            Assert.Contains(false, held);
            // The same seed gives the same assignment.
            Assert.Equal(foldOfGroup, read.FoldOfGroup(folds, seed));
        }
    }

    [Fact]
    public void BadSamplingKeysAreClearErrorsNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 10).Select(i => new KeyRow { Text = "same", Number = i % 3, Key = 1 }));
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => SamplingKeyGroups.Read(data, "Speaker"));
        Assert.StartsWith("Could not find input column 'Speaker'.", missing.Message);
        Assert.Contains("Hint: the sampling key column 'Speaker' must be a column of the data", missing.Message);
        var one = Assert.Throws<ArgumentException>(() => SamplingKeyGroups.Read(data, "Text").FoldOfGroup(2, 0));
        Assert.StartsWith("The sampling key column 'Text' has a single group ('same') holding all 10 rows;", one.Message);
        var few = Assert.Throws<ArgumentException>(() => SamplingKeyGroups.Read(data, "Number").FoldOfGroup(5, 0));
        Assert.StartsWith("The sampling key column 'Number' has 3 distinct group(s) ('0': 4 rows, '1': 3 rows, '2': 3 rows), fewer than the 5 folds requested;", few.Message);
        Assert.Contains("Hint: use at most 3 folds", few.Message);
    }

    /// <summary>Rows whose label is their group, so a split that leaks a group shows up as a label on both sides.</summary>
    private sealed class GroupRow
    {
        public string Group { get; set; } = "";
        public uint Label { get; set; }
        [VectorType(2)] public float[] X { get; set; } = new float[2];
    }

    [Fact]
    public void NeuralValidationHoldsOutWholeGroups()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 300).Select(i => new GroupRow { Group = "s" + (i % 6), Label = (uint)(i % 6), X = new[] { i % 6f, 1f } }).ToList();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var layout = new ColumnLayout(new[] { "X" }, new[] { 2 }, "Label");
        foreach (var caching in new[] { DataCaching.InMemory, DataCaching.Streaming })
        {
            var logged = new List<string>();
            var (train, valid) = TensorDataSources.Create(data, layout, caching, 0.3, seed: 5, shuffleBufferRows: 64, samplingKeyColumnName: "Group", log: logged.Add);
            Assert.NotNull(valid);
            HashSet<long> Labels(ITensorDataSource s) => s.Batches(50, null).SelectMany(b => { using (b) return b.Labels!.data<long>().ToArray(); }).ToHashSet();
            var t = Labels(train); var v = Labels(valid!);
            Assert.Empty(t.Intersect(v));
            Assert.Equal(6, t.Count + v.Count);
            Assert.InRange(v.Count, 2, 3);   // 30% of 6 equal groups: two groups (at least the fraction), never all
            Assert.Contains("Validation on whole groups of 'Group'", Assert.Single(logged));
            (train as IDisposable)?.Dispose(); (valid as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void LateFusionWithASamplingKeyFitsGroupedOutOfFoldWeights()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SitedRow.Make(240, 3, 4));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        LateFusionOptions Options(string? key) => new()
        {
            Members = new()
            {
                new LateFusionMember("image", "Image", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Image")),
                new LateFusionMember("tab", "Tab", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Tab")),
            },
            Combiner = LateFusionCombiner.WeightedAverage, NumberOfFolds = 4, SamplingKeyColumnName = key, Seed = 1,
        };
        using var model = ml.MulticlassClassification.Trainers.LateFusion(Options("Site")).Fit(keyed);
        Assert.Equal(2, model.Weights!.Count);
        Assert.Equal(1.0, model.Weights.Sum(), 6);
        var acc = ml.MulticlassClassification.Evaluate(model.Transform(keyed)).MicroAccuracy;
        Assert.True(acc > 0.25 + 0.3, $"grouped late fusion accuracy {acc:P1} is not 30 points above chance");

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.LateFusion(Options("Speaker")).Fit(keyed));
        Assert.Contains("Hint: the sampling key column 'Speaker' (LateFusionOptions.SamplingKeyColumnName) must be a column of the training data", missing.Message);
        // Fewer groups than folds (a leaderboard's fit without one of three speakers leaves two): each group is one fold.
        var o = Options("Site"); o.NumberOfFolds = 5;
        var logged = new List<string>();
        var logging = new MLContext(seed: 1);
        logging.Log += (_, e) => { if (e.Message.Contains("Late fusion:", StringComparison.Ordinal)) logged.Add(e.Message); };
        using var fourFolds = logging.MulticlassClassification.Trainers.LateFusion(o).Fit(keyed);
        Assert.Contains(logged, m => m.Contains("5 folds were asked for, but 'Site' has 4 groups in these rows: each group is one fold.", StringComparison.Ordinal));
        Assert.Contains(logged, m => m.Contains("out-of-fold rows from 4 folds", StringComparison.Ordinal));
        var fourAcc = ml.MulticlassClassification.Evaluate(fourFolds.Transform(keyed)).MicroAccuracy;
        Assert.True(fourAcc > 0.25 + 0.3, $"late fusion with a fold per group: accuracy {fourAcc:P1} is not 30 points above chance");
    }

    [Fact]
    public async Task AGroupedSweepValidatesOnUnseenGroupsAndSearchesModalitySubsets()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SitedRow.Make(240, 4, 3));
        var features = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue);
        var space = new FusionSearchSpace
        {
            Families = new() { FusionFamily.Late, FusionFamily.Early },
            LateMembers = new Choice<LateFusionMemberKind>(LateFusionMemberKind.Linear),
            LateCombiner = new Choice<LateFusionCombiner>(LateFusionCombiner.Stacking, LateFusionCombiner.WeightedAverage),
            EarlyTrainer = new Choice<EarlyFusionLearner>(EarlyFusionLearner.LbfgsMaximumEntropy),
        };
        var result = await ml.Fusion().CreateExperiment()
            .SetFeaturePipeline(features)
            .SetDataset(data, folds: 3, samplingKeyColumnName: "Site")
            .SetModalities(ModalityOptions.Image("Image", "image"), ModalityOptions.Tabular("Tab", "tab"))
            .SetSearchSpace(space).SetRandomSearchTuner().SetMaxTrials(8).SetSeed(2)
            .RunAsync();
        Assert.Null(space.Modalities);   // the user's space is left as it was
        Assert.All(result.Trials, t => Assert.Equal(FusionTrialStatus.Completed, t.Status));
        var subsets = result.Trials.Select(t => string.Join("+", t.Settings.Modalities!)).ToHashSet();
        Assert.Contains("image+tab", subsets);
        Assert.True(subsets.Count >= 2, "the sweep drew only " + string.Join(", ", subsets));
        // Both modalities are needed (each carries one bit of the label), so the best trial uses both.
        Assert.Equal(new[] { "image", "tab" }, result.BestTrial.Settings.Modalities);
        Assert.True(result.Refitted);
        Assert.True(result.BestTrial.Accuracy > 0.25 + 0.3, $"best grouped validation accuracy {result.BestTrial.Accuracy:P1}");

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => { _ = ml.Fusion().CreateExperiment().SetDataset(data, 3, "Speaker")
            .SetModalities(ModalityOptions.Image("Image")).SetMaxTrials(1).RunAsync(); });
        Assert.Contains("Hint: the sampling key column 'Speaker' must be a column of the data passed to SetDataset", ex.Message);
        var few = await Assert.ThrowsAsync<ArgumentException>(() => ml.Fusion().CreateExperiment().SetFeaturePipeline(features).SetDataset(data, 4, "Site")
            .SetModalities(ModalityOptions.Image("Image")).SetMaxTrials(1).RunAsync());
        Assert.StartsWith("The sampling key column 'Site' has 3 distinct group(s)", few.Message);
    }
}

/// <summary>Fitted late-fusion weights are trusted only as far as held-out folds (groups) support them.</summary>
public class LateFusionShrinkageTests
{
    private static OutOfFoldData Oof(params (int fold, float pMember0, float pMember1, int count)[] blocks)
    {
        var oof = new OutOfFoldData(new(), new(), new(), new());
        foreach (var (fold, p0, p1, count) in blocks)
            for (int i = 0; i < count; i++)
            {
                oof.Probabilities.Add(new[] { new[] { p0, 1 - p0 }, new[] { p1, 1 - p1 } });
                oof.Present.Add(new[] { true, true });
                oof.Labels.Add(0);
                oof.Folds.Add(fold);
            }
        return oof;
    }

    [Fact]
    public void WeightsThatDoNotCarryOverToAnotherGroupShrinkToEqualWeights()
    {
        // Member 0 is right on group 0, member 1 on group 1: weights fitted on one group fail on the other.
        var (weights, shrinkage) = WeightedAverageRule.FitShrunkWeights(Oof((0, 0.95f, 0.05f, 40), (1, 0.05f, 0.95f, 60)), 2);
        Assert.Equal(1.0, shrinkage);
        Assert.Equal(0.5, weights[0], 9);
        Assert.Equal(0.5, weights[1], 9);
    }

    [Fact]
    public void WeightsThatHoldOnEveryGroupAreKept()
    {
        // Member 0 is better on both groups: the fitted weights carry over and are not shrunk away.
        var oof = Oof((0, 0.9f, 0.3f, 50), (1, 0.85f, 0.35f, 50));
        var (weights, shrinkage) = WeightedAverageRule.FitShrunkWeights(oof, 2);
        Assert.True(shrinkage < 0.5, $"shrinkage {shrinkage}");
        Assert.True(weights[0] > 0.75, $"weight of the better member {weights[0]:F3}");
        Assert.Equal(1.0, weights.Sum(), 6);
    }

    [Fact]
    public void TheOneStandardErrorRuleKeepsTheAverageUnlessEveryFoldAgrees()
    {
        // Steps: 0 (fitted) … 4 (equal weights). Fitted weights help a lot on one fold and hurt on another: keep the average.
        var inconsistent = new double[,] { { 0.20, 0.25, 0.30, 0.35, 0.40 }, { 0.60, 0.58, 0.55, 0.50, 0.45 }, { 0.30, 0.31, 0.32, 0.33, 0.34 } };
        Assert.Equal(4, HeldOutShrinkage.MostShrunkWithinOneStandardError(inconsistent));
        // Fitted weights are better by about the same amount on every fold: keep them.
        var consistent = new double[,] { { 0.20, 0.25, 0.30, 0.35, 0.40 }, { 0.22, 0.26, 0.31, 0.36, 0.41 }, { 0.19, 0.24, 0.29, 0.34, 0.39 } };
        Assert.Equal(0, HeldOutShrinkage.MostShrunkWithinOneStandardError(consistent));
        // The best step is in the middle and the steps beside it are clearly worse on every fold.
        var middle = new double[,] { { 0.50, 0.40, 0.30, 0.40, 0.50 }, { 0.52, 0.41, 0.31, 0.42, 0.51 } };
        Assert.Equal(2, HeldOutShrinkage.MostShrunkWithinOneStandardError(middle));
    }
}
