using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.Network;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>The estimator workout for every TorchSharp trainer, on small synthetic two-modality data.</summary>
public class FusionTrainerTests
{
    private static readonly List<ModalityOptions> Mods = new()
    {
        new ModalityOptions { Name = "image", ColumnName = "Image", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 8, 16 }, OutputWidth = 32 } },
        ModalityOptions.Tabular("Tab", "tab", 32, 16),
    };

    public static IEnumerable<object[]> Families() => new[]
    {
        new object[] { "mlp" }, new object[] { "merge-mean" }, new object[] { "merge-lmf" }, new object[] { "merge-gated" }, new object[] { "network" },
        new object[] { "network-stages" }, new object[] { "crossmodal" },
    };

    internal static IEstimator<FusionPredictionTransformer> Make(MLContext ml, string family, int epochs = 8, string? embedding = null, string? used = null)
    {
        var t = ml.MulticlassClassification.Trainers;
        List<ModalityOptions> mods = Mods.Select(m => m.Clone()).ToList();
        return family switch
        {
            "mlp" => t.FusionMlp(new FusionMlpOptions { FeatureColumnName = "Features", Epochs = epochs, EmbeddingColumnName = embedding }),
            "merge-mean" => t.MergeFusion(new MergeFusionOptions { Modalities = mods, Operation = MergeOperation.Mean, Epochs = epochs, EmbeddingColumnName = embedding, ModalitiesUsedColumnName = used }),
            "merge-lmf" => t.MergeFusion(new MergeFusionOptions { Modalities = mods, Operation = MergeOperation.LowRankTensor, Epochs = epochs }),
            "merge-gated" => t.MergeFusion(new MergeFusionOptions { Modalities = mods, Operation = MergeOperation.Gated, Epochs = epochs }),
            "network" => t.NetworkFusion(new NetworkFusionOptions { Modalities = mods, Epochs = epochs, ModalitiesUsedColumnName = used }),
            "network-stages" => t.NetworkFusion(new NetworkFusionOptions { Modalities = mods, Epochs = epochs, UseIntermediateLayers = true }),
            "crossmodal" => t.CrossModalFusion(new CrossModalFusionOptions { Modalities = mods, Epochs = epochs, Width = 32, Depth = 2, ModalitiesUsedColumnName = used }),
            _ => throw new ArgumentException(family),
        };
    }

    private static IDataView Data(MLContext ml, int n, int seed)
    {
        var data = ToyRow.Load(ml, ToyRow.Make(n, seed));
        return ml.Transforms.Concatenate("Features", "Image", "Tab").Fit(data).Transform(data);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void LearnsWellAboveChanceAndPredictsTheSchemaItProduces(string family)
    {
        var ml = new MLContext(seed: 1);
        var train = Data(ml, 600, 1);
        var test = Data(ml, 300, 2);
        var estimator = Make(ml, family);
        var predicted = estimator.GetOutputSchema(MLNetFusion.Data.SchemaShapes.FromSchema(train.Schema));
        using var model = estimator.Fit(train);
        var output = model.Transform(test);
        var actual = MLNetFusion.Data.SchemaShapes.FromSchema(output.Schema);
        foreach (var col in predicted)
        {
            var match = actual.Single(c => c.Name == col.Name);
            Assert.Equal(col.Kind, match.Kind);
            Assert.Equal(col.ItemType, match.ItemType);
            Assert.Equal(col.IsKey, match.IsKey);
            Assert.Equal(col.Annotations.Select(a => a.Name).OrderBy(x => x), match.Annotations.Select(a => a.Name).OrderBy(x => x));
        }
        var metrics = ml.MulticlassClassification.Evaluate(output);
        // Four balanced classes: chance is 25%. Both modalities are needed for more than 50%.
        Assert.True(metrics.MicroAccuracy > 0.85, $"{family}: accuracy {metrics.MicroAccuracy:P1}");
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("merge-mean")]
    [InlineData("crossmodal")]
    public void SameSeedGivesIdenticalPredictions(string family)
    {
        float[] Run()
        {
            var ml = new MLContext(seed: 5);
            var train = Data(ml, 300, 1);
            using var model = Make(ml, family, epochs: 3).Fit(train);
            return Columns.Vectors(model.Transform(Data(ml, 50, 3)), "Score").SelectMany(v => v).ToArray();
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void DifferentSeedsGiveDifferentModels()
    {
        float[] Run(int seed)
        {
            var ml = new MLContext(seed: seed);
            using var model = Make(ml, "mlp", epochs: 2).Fit(Data(ml, 300, 1));
            return Columns.Vectors(model.Transform(Data(ml, 20, 3)), "Score").SelectMany(v => v).ToArray();
        }
        Assert.NotEqual(Run(1), Run(2));
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("network")]
    public void PredictionEngineEqualsBatchTransform(string family)
    {
        var ml = new MLContext(seed: 1);
        var rows = ToyRow.Make(40, 9);
        var train = Data(ml, 300, 1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Concatenate("Features", "Image", "Tab"))
            .Append(Make(ml, family, epochs: 3))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel"));
        var raw = ml.Data.LoadFromEnumerable(ToyRow.Make(300, 1));
        var model = pipeline.Fit(raw);
        var batch = Columns.Vectors(model.Transform(ml.Data.LoadFromEnumerable(rows)), "Score");
        var keys = Columns.Keys(model.Transform(ml.Data.LoadFromEnumerable(rows)), "PredictedLabel");
        var values = model.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<uint>("PredictedValue").ToArray();
        var engine = ml.Model.CreatePredictionEngine<ToyRow, ScoreRow>(model);
        for (int i = 0; i < rows.Count; i++)
        {
            var p = engine.Predict(rows[i]);
            // One row against a block of 256: matrix kernels may round the last bit differently.
            for (int k = 0; k < p.Score.Length; k++) Assert.True(Math.Abs(batch[i][k] - p.Score[k]) <= 1e-6, $"row {i} class {k}: {batch[i][k]} vs {p.Score[k]}");
            Assert.Equal(keys[i], p.PredictedLabel);
            // PredictedLabel carries the label's key values, so MapKeyToValue restores an original label (0..3).
            Assert.Equal(values[i], p.PredictedValue);
            Assert.InRange(p.PredictedValue, 0u, 3u);
        }
        foreach (var t in model) (t as IDisposable)?.Dispose();
    }

    public sealed class ScoreRow
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedLabel { get; set; }
        public uint PredictedValue { get; set; }
    }

    [Fact]
    public void PredictsFromTheModalitiesPresentAndReportsThem()
    {
        var ml = new MLContext(seed: 1);
        using var model = Make(ml, "merge-mean", epochs: 10, embedding: "Fused", used: "Modalities").Fit(Data(ml, 600, 1));
        var rows = ToyRow.Make(200, 4);
        var expectedBit0 = rows.Select(r => r.Label & 1).ToArray();
        foreach (var r in rows) r.Tab = Enumerable.Repeat(float.NaN, 4).ToArray();     // tabular missing everywhere
        var output = model.Transform(ml.Transforms.Concatenate("Features", "Image", "Tab").Fit(ToyRow.Load(ml, rows)).Transform(ToyRow.Load(ml, rows)));
        var keys = Columns.Keys(output, "PredictedLabel");
        // The image alone still tells bit 0 of the label.
        double bit0 = keys.Select((k, i) => ((k - 1) & 1) == expectedBit0[i] ? 1.0 : 0.0).Average();
        Assert.True(bit0 > 0.9, $"bit 0 accuracy from the image alone: {bit0:P1}");
        using var cursor = output.GetRowCursor(output.Schema.Where(c => c.Name is "Modalities" or "Fused"));
        var getter = cursor.GetGetter<VBuffer<bool>>(output.Schema["Modalities"]);
        var emb = cursor.GetGetter<VBuffer<float>>(output.Schema["Fused"]);
        VBuffer<bool> used = default; VBuffer<float> e = default;
        Assert.True(cursor.MoveNext());
        getter(ref used); emb(ref e);
        Assert.Equal(new[] { true, false }, used.DenseValues().ToArray());
        Assert.Equal(64, e.Length);
    }

    [Fact]
    public void RowWithNoModalityAtAllIsAClearError()
    {
        var ml = new MLContext(seed: 1);
        using var model = Make(ml, "network", epochs: 1).Fit(Data(ml, 100, 1));
        var rows = ToyRow.Make(3, 4);
        rows[2].Tab = Enumerable.Repeat(float.NaN, 4).ToArray();
        rows[2].Image = Enumerable.Repeat(float.NaN, 64).ToArray();
        var ex = Assert.Throws<InvalidOperationException>(() => Columns.Keys(model.Transform(ToyRow.Load(ml, rows)), "PredictedLabel"));
        Assert.StartsWith("Row 2: every modality ('Image', 'Tab') is missing (all NaN)", ex.Message);
    }

    [Fact]
    public void MissingColumnWrongTypeAndWrongShapeHaveExactErrors()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 50, 1);
        var t = ml.MulticlassClassification.Trainers;
        var missing = t.MergeFusion(new[] { ModalityOptions.Tabular("Nope"), ModalityOptions.Tabular("Tab") });
        var ex1 = Assert.Throws<ArgumentOutOfRangeException>(() => missing.Fit(data));
        Assert.StartsWith("Could not find input column 'Nope'.", ex1.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => missing.GetOutputSchema(MLNetFusion.Data.SchemaShapes.FromSchema(data.Schema)));

        var rawLabel = ml.Data.LoadFromEnumerable(ToyRow.Make(20, 1));
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => t.FusionMlp(featureColumnName: "Tab").Fit(rawLabel));
        Assert.StartsWith("Schema mismatch for input column 'Label': expected Key<UInt32> (a key type with a known count), got UInt32.", ex2.Message);
        Assert.Contains("MapValueToKey(\"Label\")", ex2.Message);

        var badShape = t.MergeFusion(new[] { new ModalityOptions { Name = "img", ColumnName = "Tab", EncoderOptions = new CnnEncoderOptions { Shape = new[] { 3, 3 } } } });
        var ex3 = Assert.Throws<ArgumentException>(() => badShape.Fit(data));
        Assert.StartsWith("Modality 'img': Shape [1, 3, 3] holds 9 values, but column 'Tab' has 4.", ex3.Message);

        using var model = t.FusionMlp(featureColumnName: "Tab", epochs: 1).Fit(data);
        var other = ml.Data.LoadFromEnumerable(new[] { new { Tab = "text" } });
        var ex4 = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(other));
        Assert.StartsWith("Schema mismatch for input column 'Tab': expected Vector<Single> of known size, got String.", ex4.Message);
    }

    [Fact]
    public void SavingWithMLNetsOwnFormatGivesAClearError()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 50, 1);
        using var model = Make(ml, "mlp", epochs: 1).Fit(data);
        var ex = Assert.Throws<NotSupportedException>(() => ml.Model.Save(model, data.Schema, new MemoryStream()));
        Assert.StartsWith("FusionPredictionTransformer cannot be saved with mlContext.Model.Save: ML.NET (5 and 6) does not let third-party transformers write to its model format.", ex.Message);
        Assert.Contains("Hint:", ex.Message);
    }

    [Fact]
    public void StreamingAndValidationWithEarlyStoppingWork()
    {
        var ml = new MLContext(seed: 1);
        var reports = new List<MLNetFusion.Training.EpochReport>();
        var trainer = ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions
        {
            Modalities = Mods.Select(m => m.Clone()).ToList(), Epochs = 30, Caching = MLNetFusion.Data.DataCaching.Streaming, ShuffleBufferRows = 64,
            ValidationFraction = 0.2, EarlyStoppingPatience = 2, Progress = reports.Add,
        });
        using var model = trainer.Fit(Data(ml, 400, 1));
        Assert.All(reports, r => Assert.NotNull(r.ValidationLoss));
        // The kept epoch is the one with the lowest validation loss (by more than the 1e-6 tolerance, the first of equals),
        // and training stopped exactly two epochs (the patience) after it, or ran every epoch.
        var summary = model.Summary!;
        int best = 0;
        for (int i = 1; i < reports.Count; i++) if (reports[i].ValidationLoss!.Value < reports[best].ValidationLoss!.Value - 1e-6) best = i;
        Assert.Equal(reports[best].Epoch, summary.BestEpoch);
        Assert.Equal(reports.Count, summary.History.Count);
        if (summary.StoppedEarly) Assert.Equal(summary.BestEpoch + 2, reports.Count);
        else Assert.Equal(30, reports.Count);
        var acc = ml.MulticlassClassification.Evaluate(model.Transform(Data(ml, 200, 2))).MicroAccuracy;
        Assert.True(acc > 0.8, $"accuracy {acc:P1}");
    }

    [Fact]
    public void CancellationStopsTraining()
    {
        var ml = new MLContext(seed: 1);
        using var cts = new CancellationTokenSource();
        var trainer = ml.MulticlassClassification.Trainers.FusionMlp(new FusionMlpOptions
        {
            FeatureColumnName = "Features", Epochs = 1000, CancellationToken = cts.Token, Progress = r => { if (r.Epoch == 2) cts.Cancel(); },
        });
        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Fit(Data(ml, 200, 1)));
    }
}
