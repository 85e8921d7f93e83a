using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Hybrid;
using MLNetFusion.Trainers.Network;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// Hybrid fusion (issue 43): a boosted tabular branch's out-of-fold probabilities fused with another modality's encoder
/// learns what neither alone can, saves and loads as one model, and names a bad setting.
/// </summary>
public class HybridFusionTests
{
    private sealed class Row
    {
        public string Label { get; set; } = "";
        [VectorType(3)] public float[] Tabular { get; set; } = Array.Empty<float>();
        [VectorType(8)] public float[] Signal { get; set; } = Array.Empty<float>();
        public string Site { get; set; } = "";
    }

    private sealed class ClassName { public string Label { get; set; } = ""; }

    // Four classes: bit A is a staircase of the first tabular column (odd or even eighth: trees find its steps, an MLP
    // on 600 rows does not), bit B is the sign of the other modality's signal. The tabular columns say nothing of B.
    private static IDataView Data(MLContext ml, int rows, int seed)
    {
        var rand = new Random(seed);
        var list = new List<Row>();
        for (int i = 0; i < rows; i++)
        {
            float x = (float)rand.NextDouble(), y = (float)rand.NextDouble(), z = (float)rand.NextDouble();
            int a = (int)(x * 8) % 2, b = rand.Next(2);
            var signal = Enumerable.Range(0, 8).Select(_ => (float)(rand.NextDouble() - 0.5)).ToArray();
            signal[0] = (b == 1 ? 1 : -1) * (0.3f + (float)rand.NextDouble());
            list.Add(new Row { Label = $"c{a * 2 + b}", Tabular = new[] { x, y, z }, Signal = signal, Site = "site" + (i % 6) });
        }
        var data = ml.Data.LoadFromEnumerable(list);
        var classes = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 4).Select(c => new ClassName { Label = $"c{c}" }));
        return ml.Transforms.Conversion.MapValueToKey("Label", keyData: classes).Fit(data).Transform(data);
    }

    private static HybridFusionOptions Options(MLContext ml, string? group = null) => new()
    {
        BoostedTrainer = ml.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
        {
            LabelColumnName = "Label", FeatureColumnName = "Tabular", NumberOfThreads = 1, Seed = 1, Silent = true,
        }),
        Network = new NetworkFusionOptions { Modalities = new() { ModalityOptions.Tabular("Signal", "signal", 16) }, Epochs = 20, Seed = 1, SamplingKeyColumnName = group },
    };

    [Fact]
    public void TheBoostedBranchAndTheNetworkTogetherLearnWhatNeitherLearnsAlone()
    {
        var ml = new MLContext(seed: 1);
        var train = Data(ml, 600, 1);
        var test = Data(ml, 400, 2);
        double Accuracy(ITransformer model) => ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;

        var trainer = ml.MulticlassClassification.Trainers.HybridFusion(Options(ml, "Site"));
        using var hybrid = trainer.Fit(train);
        double fused = Accuracy(hybrid);
        Assert.True(trainer.BlendWeight >= 0.5, $"the network carries bit B, but the blend gave it weight {trainer.BlendWeight}");
        Assert.Equal(trainer.BlendWeight, HybridFusionTrainer.NetworkWeight(hybrid));
        double trees = Accuracy(Options(ml).BoostedTrainer!.Fit(train));
        using var network = ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions
        {
            Modalities = new() { ModalityOptions.Tabular("Tabular", "tabular", 16), ModalityOptions.Tabular("Signal", "signal", 16) }, Epochs = 20, Seed = 1,
        }).Fit(train);
        double neural = Accuracy(network);
        Assert.True(trees < 0.6, $"LightGBM on the tabular columns alone: {trees:P1} (it cannot see bit B; at most 50% plus noise)");
        Assert.True(fused > 0.85, $"hybrid: {fused:P1} on four classes (chance 25%)");
        Assert.True(fused > neural + 0.1, $"hybrid {fused:P1} against network fusion on the same columns {neural:P1}");
    }

    [Fact]
    public void WhenTheOtherModalityIsNoiseTheHybridKeepsTheTreesAnswer()
    {
        // The houses-like failure: a network over a noise modality does worse than the trees, so a hybrid that trusts the
        // network loses to LightGBM. The held-out blend must keep (nearly) the trees' accuracy.
        var ml = new MLContext(seed: 1);
        IDataView Noisy(int rows, int seed)
        {
            var data = Data(ml, rows, seed);
            var rand = new Random(seed + 100);
            // The signal replaced by noise: bit B is then unknowable, and the label is read as bit A (classes c0/c1 vs c2/c3).
            return ml.Transforms.CustomMapping<SignalIn, SignalOut>((i, o) => o.Signal = Enumerable.Range(0, 8).Select(_ => (float)(rand.NextDouble() - 0.5)).ToArray(), null)
                .Fit(data).Transform(data);
        }
        var train = Noisy(500, 5);
        var test = Noisy(400, 6);
        var trainer = ml.MulticlassClassification.Trainers.HybridFusion(Options(ml));
        using var hybrid = trainer.Fit(train);
        double fused = ml.MulticlassClassification.Evaluate(hybrid.Transform(test)).MicroAccuracy;
        double trees = ml.MulticlassClassification.Evaluate(Options(ml).BoostedTrainer!.Fit(train).Transform(test)).MicroAccuracy;
        Assert.True(fused >= trees - 0.03, $"hybrid {fused:P1} (network weight {trainer.BlendWeight}) against LightGBM alone {trees:P1}");
        Assert.Equal(trainer.BlendWeight, HybridFusionTrainer.NetworkWeight(hybrid));

        // A blend that can only choose the boosted model: no network is fitted and the served scores are the boosted model's own.
        var treesOnly = Options(ml);
        treesOnly.BlendWeights = new[] { 0.0 };
        var alone = ml.MulticlassClassification.Trainers.HybridFusion(treesOnly);
        using var served = alone.Fit(train);
        Assert.Equal(0, alone.BlendWeight);
        Assert.Equal(0, HybridFusionTrainer.NetworkWeight(served));
        Assert.DoesNotContain(served, t => t is FusionPredictionTransformer);
        var boosted = Options(ml).BoostedTrainer!.Fit(train);
        Assert.Equal(Columns.Vectors(boosted.Transform(test), "Score"), Columns.Vectors(served.Transform(test), "Score"));
        Assert.Null(HybridFusionTrainer.NetworkWeight(boosted));
    }

    private sealed class SignalIn { [VectorType(8)] public float[] Signal { get; set; } = Array.Empty<float>(); }
    private sealed class SignalOut { [VectorType(8)] public float[] Signal { get; set; } = Array.Empty<float>(); }

    [Fact]
    public void AHybridModelSavesAndLoadsAsOneModelWithEqualScores()
    {
        var ml = new MLContext(seed: 1);
        var train = Data(ml, 300, 3);
        var options = Options(ml);
        options.Network.Epochs = 3;
        options.NumberOfFolds = 3;
        var model = ml.MulticlassClassification.Trainers.HybridFusion(options).Fit(train);
        var scores = Columns.Vectors(model.Transform(train), "Score");
        Assert.All(scores, s => Assert.Equal(4, s.Length));
        Assert.Contains(model.GetOutputSchema(train.Schema), c => c.Name == HybridFusionOptions.Defaults.ScoresColumnName);
        var path = Path.Combine(TestData.TempFolder("hybrid"), "model.zip");
        ml.Model.SaveFusionModel(model, train.Schema, path);
        var loaded = ml.Model.LoadFusionModel(path, out _);
        var again = Columns.Vectors(loaded.Transform(train), "Score");
        for (int i = 0; i < scores.Count; i++) Assert.Equal(scores[i], again[i]);
        (model as IDisposable)?.Dispose();
        (loaded as IDisposable)?.Dispose();
    }

    [Fact]
    public void AnOnnxExportKeepsTheBoostedModelOutsideTheGraphAndTheGraphMatches()
    {
        var ml = new MLContext(seed: 1);
        var train = Data(ml, 300, 7);
        var options = Options(ml);
        options.Network.Epochs = 3;
        options.NumberOfFolds = 3;
        using var model = ml.MulticlassClassification.Trainers.HybridFusion(options).Fit(train);
        var path = Path.Combine(TestData.TempFolder("hybrid-onnx"), "m.onnx");
        var export = ml.Model.ExportFusionToOnnx(model, train.Schema, path);
        Assert.Equal(new[] { "OneVersusAll model" }, export.OutsideGraphNames);   // LightGBM's multiclass model, as ML.NET names it
        // The graph reads the boosted model's probabilities and the other modality; its Score is the blend's.
        Assert.Equal(new[] { "Score", "Signal" }, export.Inputs.Select(i => i.Column));
        var expected = Columns.Vectors(model.Transform(train), "Score");
        var (actual, _) = OnnxExportTests.RunOnnx(path, export.OutsideGraph.Transform(train), export);
        Assert.True(expected.Zip(actual).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second))) <= 1e-4);
    }

    [Fact]
    public void BadSettingsGiveTheExactError()
    {
        var ml = new MLContext(seed: 1);
        var none = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.HybridFusion(new HybridFusionOptions()));
        Assert.StartsWith("HybridFusionOptions.BoostedTrainer is required.", none.Message);
        Assert.StartsWith("BlendWeights needs at least one weight, each in [0, 1].", Assert.Throws<ArgumentOutOfRangeException>(() => new HybridFusionOptions
            { BoostedTrainer = Options(ml).BoostedTrainer, BlendWeights = new[] { 0.5, 1.5 } }.Validate()).Message);
        var options = Options(ml);
        options.Network.Modalities.Add(ModalityOptions.Tabular(HybridFusionOptions.Defaults.ScoresColumnName));
        var clash = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.HybridFusion(options));
        Assert.StartsWith($"A network modality already reads '{HybridFusionOptions.Defaults.ScoresColumnName}'", clash.Message);
        var wrong = Options(ml);
        wrong.BoostedFeatureColumnName = "Missing";
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.HybridFusion(wrong).Fit(Data(ml, 50, 4)));
        Assert.StartsWith("Could not find input column 'Missing'.", missing.Message);
    }
}

/// <summary>Hybrid fusion is a family of the sweep too: its trial builds the hybrid trainer, or says why it cannot.</summary>
public class HybridSweepTests
{
    [Fact]
    public void AHybridTrialBuildsTheHybridTrainerOrSaysWhyNot()
    {
        var ml = new MLContext(seed: 1);
        var space = new MLNetFusion.AutoML.Sweep.FusionSearchSpace();
        var modalities = new[] { ModalityOptions.Tabular("Tabular", "price columns"), ModalityOptions.Image("Pixels", "photo", new[] { 1, 8, 8 }) };
        var context = new MLNetFusion.AutoML.CandidateContext(ml, modalities, "Label") { Space = space, GroupColumnName = "Site", Seed = 4 };
        var trial = new MLNetFusion.AutoML.Sweep.FusionTrialSettings(7, MLNetFusion.Trainers.FusionFamily.Hybrid, space.DefaultsOf(MLNetFusion.Trainers.FusionFamily.Hybrid));
        var hybrid = Assert.IsType<HybridFusionTrainer>(context.Build(trial));
        Assert.Equal("Tabular", hybrid.Options.BoostedFeatureColumnName);
        Assert.Equal(new[] { "photo" }, hybrid.Options.Network.Modalities.Select(m => m.Name));
        Assert.Equal("Site", hybrid.Options.Network.SamplingKeyColumnName);

        var tabularOnly = context with { Modalities = new[] { modalities[0] } };
        var error = Assert.Throws<ArgumentException>(() => tabularOnly.Build(trial));
        Assert.StartsWith("Trial 7: hybrid fusion needs a tabular modality and another one, but the trial has price columns (Tabular).", error.Message);
    }
}
