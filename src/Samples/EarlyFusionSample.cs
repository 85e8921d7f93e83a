using Microsoft.ML;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.Early;

namespace MLNetFusion.Samples;

/// <summary>
/// Early fusion on avdigits (FSDD spoken digits, CC BY-SA 4.0, Zohar Jackson and contributors; paired with corrupted
/// MNIST digits, CC BY-SA 3.0, LeCun, Cortes and Burges; see the dataset's README): per-modality features, then
/// <c>Concatenate</c>, then any ML.NET multiclass trainer — here L-BFGS maximum entropy and MLNetFusion's TorchSharp MLP.
/// </summary>
/// <remarks>
/// The corrupted images are weak and noisy as raw pixels (about 60% alone) and, concatenated with the spectrogram, only
/// add variance. A trainable image featurizer (<c>FeaturizeImage</c>: a small CNN fitted on the label) turns them into
/// 64 learned features (about 78% alone), and then the concatenation beats each modality.
/// </remarks>
public static class EarlyFusionSample
{
    /// <summary>Per-modality and fused accuracies, as the sample prints them.</summary>
    public sealed record Result(string Modalities, double LbfgsAccuracy, double MlpAccuracy);

    /// <summary>Runs the sample on <c>../shared/data/avdigits</c> (or <paramref name="folder"/>).</summary>
    public static List<Result> Example(string? folder = null, bool print = true, int epochs = 15)
    {
        folder ??= DefaultPaths.AvDigits;
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.AvDigits(folder);

        // Images: LoadImages -> ResizeImages -> ExtractPixels; audio: LoadAudio -> MelSpectrogram (see MultimodalDataset.Featurizer).
        var (rawTrain, rawTest, _) = ds.Featurize(ml);
        // Learned image features, fitted on the training split only.
        var imageFeaturizer = ml.Transforms.FeaturizeImage("ImageEmbedding", MultimodalDataset.Pixels, epochs: epochs).Fit(rawTrain);
        var train = ml.Data.Cache(imageFeaturizer.Transform(rawTrain));
        var test = ml.Data.Cache(imageFeaturizer.Transform(rawTest));

        var results = new List<Result>();
        foreach (var (name, columns) in new[] { ("image", new[] { "ImageEmbedding" }), ("audio", new[] { "LogMel" }), ("image+audio", new[] { "ImageEmbedding", "LogMel" }) })
        {
            var linear = ml.Transforms.Concatenate("Features", columns)
                .Append(ml.Transforms.NormalizeMeanVariance("Features"))
                .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(l1Regularization: 0f, l2Regularization: 1f));
            var mlp = ml.Transforms.Concatenate("Features", columns)
                .Append(ml.MulticlassClassification.Trainers.FusionMlp(new FusionMlpOptions { Epochs = 2 * epochs, HiddenWidths = new[] { 256, 64 }, Dropout = 0.3 }));
            var a = ml.MulticlassClassification.Evaluate(linear.Fit(train).Transform(test)).MicroAccuracy;
            var b = ml.MulticlassClassification.Evaluate(mlp.Fit(train).Transform(test)).MicroAccuracy;
            results.Add(new Result(name, a, b));
            if (print) Console.WriteLine($"{name,-12} L-BFGS maxent {a:P1}   FusionMlp {b:P1}");
        }
        imageFeaturizer.Dispose();
        return results;
        // Expected output (2-core Linux, seed 1):
        // image        L-BFGS maxent 77.2 %   FusionMlp 78.0 %
        // audio        L-BFGS maxent 98.3 %   FusionMlp 98.5 %
        // image+audio  L-BFGS maxent 99.5 %   FusionMlp 99.0 %
    }
}
