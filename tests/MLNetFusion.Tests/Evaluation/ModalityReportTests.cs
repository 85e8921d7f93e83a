using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Evaluation;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.AutoML.Sweep;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>mlContext.MulticlassClassification.EvaluateModalities: subsets, importance, calibration, groups.</summary>
public class ModalityReportTests
{
    private static IEstimator<ITransformer> Merge(MLContext ml) => ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions
    {
        Modalities = new() { ModalityOptions.Image("Image", "Image"), ModalityOptions.Tabular("Tab", "Tab", 16) },
        // 15 epochs: at 6 the per-modality heads, which join the prediction by default, are still under-trained and cost
        // accuracy (README, "Remedies").
        Operation = MergeOperation.Mean, Epochs = 15, Seed = 3,
    });

    [Fact]
    public void SubsetMetricsEqualHidingTheModalityByHand()
    {
        var ml = new MLContext(seed: 1);
        var rows = ToyRow.Make(400, 11);
        var train = ToyRow.Load(ml, rows.Take(300));
        var testRows = rows.Skip(100 * 3).ToList();
        using var model = (FusionPredictionTransformer)Merge(ml).Fit(train);
        var report = ml.MulticlassClassification.EvaluateModalities(model, ToyRow.Load(ml, testRows), permutationCount: 2);
        Assert.Equal(new[] { "Image", "Tab" }, report.Modalities);
        Assert.Equal(3, report.Subsets.Count);
        Assert.Equal(new[] { "Image", "Tab" }, report.Subsets[0].Modalities);

        void Check(ModalityMetrics actual, IEnumerable<ToyRow> byHand)
        {
            var m = ml.MulticlassClassification.Evaluate(model.Transform(ToyRow.Load(ml, byHand)));
            Assert.Equal(m.MicroAccuracy, actual.Accuracy, 9);
            Assert.Equal(m.MacroAccuracy, actual.MacroAccuracy, 9);
            Assert.Equal(m.LogLoss, actual.LogLoss, 6);
            Assert.Equal(FusionMetrics.MacroF1(m), actual.MacroF1, 9);
            Assert.Equal(testRows.Count, actual.Rows);
            Assert.Equal(0, actual.NonFiniteScoreRows);
        }
        float[] Nan(int n) => Enumerable.Repeat(float.NaN, n).ToArray();
        Check(report.Overall, testRows);
        Check(report.Subset("Tab").Metrics!, testRows.Select(r => new ToyRow { Label = r.Label, Image = Nan(64), Tab = r.Tab }));
        Check(report.Subset("Image").Metrics!, testRows.Select(r => new ToyRow { Label = r.Label, Image = r.Image, Tab = Nan(4) }));
        // Each modality carries one bit of a 4-class label: with both, far above what either gives alone.
        Assert.True(report.Overall.Accuracy > 0.85, $"merge accuracy {report.Overall.Accuracy:P1}");
        Assert.All(report.Importance, i => Assert.True(i.AccuracyDropWhenHidden > 0.2, $"{i.Modality}: hidden drop {i.AccuracyDropWhenHidden:F3}"));
        Assert.Equal(report.Overall.Accuracy - report.Subset("Tab").Metrics!.Accuracy, report.Importance[0].AccuracyDropWhenHidden, 12);
    }

    /// <summary>Rows whose label is in the image alone; the tabular columns are noise.</summary>
    private static List<ToyRow> ImageOnlyRows(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            uint y = (uint)r.Next(4);
            var img = Enumerable.Range(0, 64).Select(_ => (float)(r.NextDouble() * 0.3)).ToArray();
            for (int c = 0; c < 8; c++) img[(1 + 2 * (int)y) * 8 + c] += 1f;
            return new ToyRow { Label = y, Image = img, Tab = Enumerable.Range(0, 4).Select(_ => (float)r.NextDouble()).ToArray() };
        }).ToList();
    }

    [Fact]
    public void ANoiseModalityHasNoImportanceAndAPredictiveOneALargeDrop()
    {
        var ml = new MLContext(seed: 1);
        var rows = ImageOnlyRows(600, 5);
        var train = ToyRow.Load(ml, rows.Take(400));
        var test = ToyRow.Load(ml, rows.Skip(400));
        var late = ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions
        {
            Members = new()
            {
                new LateFusionMember("Image", "Image", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Image")),
                new LateFusionMember("Tab", "Tab", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Tab")),
            },
            Combiner = LateFusionCombiner.Average,
        });
        // A user-built chain: the report finds late fusion inside it.
        var chain = new EstimatorChain<ITransformer>().Append(ml.Transforms.CopyColumns("Copy", "Label")).Append(late).Fit(train);
        var report = ml.MulticlassClassification.EvaluateModalities(chain, test, permutationCount: 5);
        Assert.Equal(new[] { "Image", "Tab" }, report.Modalities);
        var image = report.Importance.Single(i => i.Modality == "Image");
        var noise = report.Importance.Single(i => i.Modality == "Tab");
        Assert.True(report.Overall.Accuracy > 0.9, $"accuracy {report.Overall.Accuracy:P1}");
        Assert.InRange(noise.AccuracyDropWhenPermuted, -0.03, 0.03);
        Assert.InRange(noise.AccuracyDropWhenHidden, -0.03, 0.03);
        Assert.True(image.AccuracyDropWhenPermuted > 0.5, $"image permuted drop {image.AccuracyDropWhenPermuted:F3}");
        Assert.True(image.AccuracyDropWhenHidden > 0.5, $"image hidden drop {image.AccuracyDropWhenHidden:F3}");
        Assert.True(image.AccuracyDropWhenPermutedStdDev >= 0 && image.AccuracyDropWhenPermutedStdDev < 0.1);
        Assert.Equal(5, image.Permutations);
        // Deterministic for a seed.
        var again = ml.MulticlassClassification.EvaluateModalities(chain, test, permutationCount: 5);
        Assert.Equal(image.AccuracyDropWhenPermuted, again.Importance[0].AccuracyDropWhenPermuted);
        ((IDisposable)chain).Dispose();
    }

    [Fact]
    public void ExpectedCalibrationErrorEqualsTheHandComputedValue()
    {
        float[][] scores = { new[] { 0.9f, 0.1f }, new[] { 0.25f, 0.75f }, new[] { 0.38f, 0.62f }, new[] { 0.55f, 0.45f }, new[] { 0.58f, 0.42f } };
        int[] labels = { 0, 0, 1, 0, 1 };
        var calibration = ScoredRows.From(scores, labels, 2).Calibration(15);
        // Bins of width 1/15: 0.9 → bin 13 (right), 0.75 → bin 11 (wrong), 0.62 → bin 9 (right), 0.55 and 0.58 → bin 8 (one right).
        double expected = 0.2 * Math.Abs(1 - 0.9) + 0.2 * Math.Abs(0 - 0.75) + 0.2 * Math.Abs(1 - 0.62) + 0.4 * Math.Abs(0.5 - (0.55 + 0.58) / 2);
        Assert.Equal(expected, calibration.ExpectedCalibrationError, 6);
        Assert.Equal(15, calibration.Bins.Count);
        Assert.Equal(2, calibration.Bins[8].Count);
        Assert.Equal(0.5, calibration.Bins[8].Accuracy);
        Assert.Equal(0.565, calibration.Bins[8].MeanConfidence, 6);
        Assert.Equal(5, calibration.Bins.Sum(b => b.Count));
        Assert.True(double.IsNaN(calibration.Bins[0].Accuracy));
    }

    [Fact]
    public void PerGroupMetricsFindTheWorstGroup()
    {
        var ml = new MLContext(seed: 1);
        var rows = ImageOnlyRows(300, 8);
        var train = ToyRow.Load(ml, rows.Take(200));
        using var model = ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions
        {
            Members = new() { new LateFusionMember("Image", "Image", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Image")) },
        }).Fit(train);
        // Group "bad" has its image replaced by noise: it is the worst group.
        var r = new Random(1);
        var test = rows.Skip(200).Select((x, i) => new SitedToyRow
        {
            Label = x.Label, Tab = x.Tab, Site = i % 4 == 0 ? "bad" : "good" + (i % 2),
            Image = i % 4 == 0 ? Enumerable.Range(0, 64).Select(_ => (float)r.NextDouble()).ToArray() : x.Image,
        }).ToList();
        var data = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Fit(ml.Data.LoadFromEnumerable(test)).Transform(ml.Data.LoadFromEnumerable(test));
        var report = ml.MulticlassClassification.EvaluateModalities(model, data, groupColumnName: "Site", permutationCount: 1);
        var groups = report.Groups!;
        Assert.Equal(3, groups.Groups.Count);
        Assert.Equal("bad", groups.Worst.Group);
        Assert.Equal(test.Count, groups.Groups.Sum(g => g.Metrics.Rows));
        Assert.Equal(groups.Groups.Max(g => g.Metrics.Accuracy) - groups.Worst.Metrics.Accuracy, groups.AccuracySpread, 12);
        Assert.Equal(groups.Groups.Average(g => g.Metrics.Accuracy), groups.MeanAccuracy, 12);
        int bad = test.Count(t => t.Site == "bad");
        Assert.Equal(bad, groups.Worst.Metrics.Rows);
        // A single-modality model: importance when hidden is undefined, permutation still measured.
        Assert.True(double.IsNaN(report.Importance[0].AccuracyDropWhenHidden));
    }

    private sealed class SitedToyRow
    {
        public uint Label { get; set; }
        [VectorType(1, 8, 8)] public float[] Image { get; set; } = Array.Empty<float>();
        [VectorType(4)] public float[] Tab { get; set; } = Array.Empty<float>();
        public string Site { get; set; } = "";
    }

    [Fact]
    public void EarlyFusionNeedsItsColumnsAndPermutationFeatureImportancePointsToTheReport()
    {
        var ml = new MLContext(seed: 1);
        var train = ToyRow.Load(ml, ToyRow.Make(200, 2));
        var early = ml.Transforms.Concatenate("Features", "Image", "Tab").Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy()).Fit(train);
        var ex = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.EvaluateModalities(early, train));
        Assert.StartsWith("The model holds no MLNetFusion fusion transformer", ex.Message);
        Assert.Contains("Hint: pass the modality columns", ex.Message);
        var report = ml.MulticlassClassification.EvaluateModalities(early, train, modalityColumnNames: new[] { "Image", "Tab" }, permutationCount: 1);
        Assert.Equal(3, report.Subsets.Count);
        var unknown = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.EvaluateModalities(early, train, modalityColumnNames: new[] { "Pixels" }));
        Assert.StartsWith("Could not find modality column 'Pixels' in the data or anywhere along the model.", unknown.Message);

        using var merge = (FusionPredictionTransformer)Merge(ml).Fit(train);
#pragma warning disable CS0618 // the overload exists to point users to the report
        var pfi = Assert.Throws<NotSupportedException>(() => ml.MulticlassClassification.PermutationFeatureImportance(merge, train));
#pragma warning restore CS0618
        Assert.StartsWith("ML.NET's PermutationFeatureImportance permutes the slots of one feature column, but a fusion model reads one column per modality.", pfi.Message);
        Assert.Contains("Hint: use mlContext.MulticlassClassification.EvaluateModalities(model, data)", pfi.Message);
    }
}
