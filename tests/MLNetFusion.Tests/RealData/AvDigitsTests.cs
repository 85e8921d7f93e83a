using Microsoft.ML;
using MLNetFusion.Datasets;
using MLNetFusion.Models;
using MLNetFusion.Samples;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Network;
using Xunit;
using Xunit.Abstractions;

namespace MLNetFusion.Tests;

/// <summary>Featurizes avdigits once for the real-data tests (lazily, so nothing happens when they skip).</summary>
public sealed class AvDigitsFixture
{
    private readonly Lazy<(MLContext ml, MultimodalDataset ds, IDataView train, IDataView test)> _data = new(() =>
    {
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.AvDigits(TestData.AvDigits);
        var (train, test, _) = ds.Featurize(ml);
        return (ml, ds, train, test);
    });

    /// <summary>The featurized splits.</summary>
    public (MLContext ml, MultimodalDataset ds, IDataView train, IDataView test) Data => _data.Value;
}

/// <summary>
/// Real data: avdigits (FSDD spoken digits, CC BY-SA 4.0, paired with corrupted MNIST digits, CC BY-SA 3.0; see the
/// dataset's README). Skipped with a message when ../shared/data is absent.
/// </summary>
public class AvDigitsTests : IClassFixture<AvDigitsFixture>
{
    private readonly AvDigitsFixture _fixture;
    private readonly ITestOutputHelper _out;

    public AvDigitsTests(AvDigitsFixture fixture, ITestOutputHelper output) { _fixture = fixture; _out = output; }

    /// <summary>Epochs of every network here (at 8, cross-modal fusion measured 98.0% and audio alone 97.0%: below their ceilings).</summary>
    private const int Epochs = 15;

    [AvDigitsFact]
    public void EarlyFusionBeatsEachModalityTrainedTheSameWay()
    {
        var results = EarlyFusionSample.Example(TestData.AvDigits, print: false);
        foreach (var r in results) _out.WriteLine($"{r.Modalities}: L-BFGS {r.LbfgsAccuracy:P1}, FusionMlp {r.MlpAccuracy:P1}");
        var image = results.Single(r => r.Modalities == "image");
        var audio = results.Single(r => r.Modalities == "audio");
        var fused = results.Single(r => r.Modalities == "image+audio");
        // Measured: L-BFGS 77.2% / 98.3% / 99.5%, FusionMlp 78.0% / 98.5% / 99.0%.
        Assert.True(fused.LbfgsAccuracy > Math.Max(image.LbfgsAccuracy, audio.LbfgsAccuracy), "L-BFGS: fusion must beat each modality");
        // FusionMlp's margin is 2 rows of 400 here; across CPU kernels it may shrink to a tie, never below.
        Assert.True(fused.MlpAccuracy >= Math.Max(image.MlpAccuracy, audio.MlpAccuracy), "FusionMlp: fusion must not lose to a single modality");
        Assert.True(fused.LbfgsAccuracy >= 0.985, $"L-BFGS early fusion {fused.LbfgsAccuracy:P1}");
        Assert.True(fused.MlpAccuracy >= 0.985, $"FusionMlp early fusion {fused.MlpAccuracy:P1}");
    }

    [AvDigitsFact]
    public void NeuralFamiliesReachTheBarAndNeverFallBelowTheirBestSingleModality()
    {
        var (ml, ds, train, test) = _fixture.Data;
        double Accuracy(IEstimator<FusionPredictionTransformer> trainer)
        {
            using var model = trainer.Fit(train);
            return ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
        }
        var t = ml.MulticlassClassification.Trainers;
        double image = Accuracy(t.NetworkFusion(ds.Modalities().Where(m => m.Kind == ModalityKind.Image), epochs: Epochs));
        double audio = Accuracy(t.NetworkFusion(ds.Modalities().Where(m => m.Kind == ModalityKind.Audio), epochs: Epochs));
        var families = new (string name, IEstimator<FusionPredictionTransformer> trainer)[]
        {
            ("merge", t.MergeFusion(ds.Modalities(), MergeOperation.Attention, epochs: Epochs)),
            ("network", t.NetworkFusion(ds.Modalities(), epochs: Epochs)),
            ("cross-modal", t.CrossModalFusion(ds.Modalities(), epochs: Epochs)),
        };
        _out.WriteLine($"single: image {image:P1}, audio {audio:P1}");
        var audioMissing = WithoutAudio(ml, test);
        foreach (var (name, trainer) in families)
        {
            using var model = trainer.Fit(train);
            double acc = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
            double withoutAudio = ml.MulticlassClassification.Evaluate(model.Transform(audioMissing)).MicroAccuracy;
            _out.WriteLine($"{name}: {acc:P1}; with the audio missing: {withoutAudio:P1}");
            Assert.True(acc >= 0.985, $"{name}: {acc:P1} on the avdigits test split");
            // Both are at the ceiling in distribution (audio alone 99.4-99.8%): allow four examples of 400. Cross-modal measured
            // 100%, 99.0% and 99.3% at context seeds 1-3 (98.8-100% with the tensor log-mel path), against audio's 99.8% at seed 1.
            Assert.True(acc >= Math.Max(image, audio) - 4.0 / 400 - 1e-9, $"{name}: {acc:P1} is below the best single modality ({Math.Max(image, audio):P1})");
            // Modality dropout keeps the model usable when the dominant modality is gone: it falls back to the image.
            Assert.True(withoutAudio >= 0.85 * image, $"{name}: {withoutAudio:P1} without audio, image-only model {image:P1}");
        }
    }

    /// <summary>The test split with every LogMel vector replaced by NaN (the missing-modality convention).</summary>
    private static IDataView WithoutAudio(MLContext ml, IDataView test)
        => MLNetFusion.Trainers.Evaluation.ModalityColumn.Hide(test.Schema, MultimodalDataset.LogMel).Transform(test);
}
