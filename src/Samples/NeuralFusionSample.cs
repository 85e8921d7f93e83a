using Microsoft.ML;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.Merge;

namespace MLNetFusion.Samples;

/// <summary>
/// Merge fusion on the generated dataset: a CNN per image and spectrogram, an MLP for tabular columns, embeddings merged
/// by attention, trained end to end inside a normal ML.NET pipeline; then a PredictionEngine for single rows.
/// </summary>
public static class NeuralFusionSample
{
    /// <summary>Runs the sample.</summary>
    public static void Example(int epochs = 15)
    {
        var ml = new MLContext(seed: 1);
        var folder = SyntheticMultimodalDataset.EnsureGenerated(DefaultPaths.SyntheticData);
        var ds = MultimodalDataset.Synthetic(folder);
        var trainRaw = ds.Load(ml, ds.TrainFile);
        var testRaw = ds.Load(ml, ds.TestFile);

        var pipeline = ds.Featurizer(ml)
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.MergeFusion(ds.Modalities(), MergeOperation.Attention, epochs: epochs))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
        var model = pipeline.Fit(trainRaw);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(testRaw));
        Console.WriteLine($"Merge fusion (attention): accuracy {metrics.MicroAccuracy:P1}, log-loss {metrics.LogLoss:F3}");

        var engine = ml.Model.CreatePredictionEngine<RawRow, Prediction>(model);
        var first = ml.Data.CreateEnumerable<RawRow>(testRaw, reuseRowObject: false).First();
        var p = engine.Predict(first);
        Console.WriteLine($"Row 0: true {first.Label}, predicted {p.PredictedClass} ({p.Score.Max():P0})");
        foreach (var t in model) (t as IDisposable)?.Dispose();
        // Expected output (seed 1, 2 cores, measured): "Merge fusion (attention): accuracy 68.8 %, log-loss 0.860" in about 20 s;
        // each modality alone is at most ~25% (see the leaderboard).
    }

    /// <summary>A raw row of the generated dataset.</summary>
    public sealed class RawRow
    {
        public string Label { get; set; } = "";
        public string ImagePath { get; set; } = "";
        public string AudioPath { get; set; } = "";
        public float Age { get; set; }
        public float Income { get; set; }
        public float Score1 { get; set; }
        public float Score2 { get; set; }
        public string Region { get; set; } = "";
        public string Notes { get; set; } = "";
    }

    /// <summary>The prediction.</summary>
    public sealed class Prediction
    {
        public string PredictedClass { get; set; } = "";
        public float[] Score { get; set; } = Array.Empty<float>();
    }
}
