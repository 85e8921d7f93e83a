using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Models;
using MLNetFusion.Runtime;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Training;
using MLNetFusion.Transforms.Audio;
using Xunit;
using static TorchSharp.torch;

namespace MLNetFusion.Tests;

/// <summary>The remedies for modality competition and shift: augmentation, OGM-GE, per-clip normalisation, temperature scaling.</summary>
public class BalancedLearningTests
{
    private static ConvEncoder Encoder(ModalityAugmentation? augmentation, bool perClip = false)
    {
        using var seed = new TorchSeedScope(3);
        return new ConvEncoder("audio", "LogMel", new[] { 1, 8, 16 }, new[] { 4 }, 8, 0, batchNorm: false, mean: -4, std: 2, augmentation, perClip);
    }

    private static float[] Run(nn.Module<Tensor, Tensor> encoder, Tensor x, int seed)
    {
        using var scope = new TorchSeedScope(seed);
        using var _ = no_grad();
        return encoder.call(x).data<float>().ToArray();
    }

    [Fact]
    public void AugmentationIsOffAtInferenceAndDeterministicForASeed()
    {
        TorchRuntime.EnsureInitialized();
        using var x = randn(6, 128) - 4;
        using var plain = Encoder(null);
        using var augmented = Encoder(ModalityAugmentation.Spectrogram(1));
        // Identical weights (same seed): in eval mode, as Transform runs it, the augmented encoder gives the plain outputs.
        plain.eval(); augmented.eval();
        Assert.Equal(Run(plain, x, 1), Run(augmented, x, 1));
        // In training it augments: the outputs differ from the plain ones, are the same for a seed and differ across seeds.
        plain.train(); augmented.train();
        var a1 = Run(augmented, x, 1);
        Assert.NotEqual(Run(plain, x, 1), a1);
        Assert.Equal(a1, Run(augmented, x, 1));
        Assert.NotEqual(a1, Run(augmented, x, 2));
        var tabular = ModalityAugmentation.Tabular(1);
        using var features = ones(4, 10);
        using (new TorchSeedScope(5)) Assert.Equal(tabular.ApplyToFeatures(features).data<float>().ToArray(), ApplyWithSeed(tabular, features, 5));
    }

    private static float[] ApplyWithSeed(ModalityAugmentation a, Tensor x, int seed)
    {
        using var scope = new TorchSeedScope(seed);
        return a.ApplyToFeatures(x).data<float>().ToArray();
    }

    [Fact]
    public void SpeakerPerturbationMovesABandAndAFrameWithinItsLimits()
    {
        TorchRuntime.EnsureInitialized();
        // 64 copies of a 40-band × 41-frame spectrogram, 0 everywhere but band 20 and frame 30, which are 10.
        const int bands = 40, frames = 41, band = 20, frame = 30;
        using var x = zeros(64, 1, bands, frames);
        x[.., .., band, ..] = 10;
        x[.., .., .., frame] = 10;
        var warp = new ModalityAugmentation { FrequencyWarp = 0.1, TimeStretch = 0.1 };
        Tensor y;
        using (new TorchSeedScope(7)) y = warp.ApplyToMaps(x, 1);
        Assert.True(warp.IsActive);
        Assert.Equal(x.shape, y.shape);
        Assert.True(y.isfinite().all().item<bool>());
        // Output band i reads input band i / f with f in [0.9, 1.1], so the bright band lands within [18, 22];
        // output frame i reads 20 + (i − 20) / f, so frame 30 lands within [29, 31] (the centre, frame 20, stays).
        var peakBands = y[.., 0, .., 0].argmax(1).data<long>().ToArray();
        var peakFrames = y[.., 0, 0, ..].argmax(1).data<long>().ToArray();
        Assert.All(peakBands, b => Assert.InRange(b, (long)Math.Floor(band * 0.9), (long)Math.Ceiling(band * 1.1)));
        Assert.All(peakFrames, f => Assert.InRange(f, frame - 1L, frame + 1L));
        Assert.True(peakBands.Distinct().Count() >= 3, "the warp should move the band by different amounts in different rows");
        // Linear interpolation keeps values within the input's range, and a constant spectrogram stays constant.
        Assert.InRange(y.min().item<float>(), 0f, 0f);
        Assert.InRange(y.max().item<float>(), 0f, 10f);
        using var flat = full(8, 1, bands, frames, 3f);
        using (new TorchSeedScope(8)) Assert.All(warp.ApplyToMaps(flat, 1).data<float>().ToArray(), v => Assert.Equal(3f, v, 5));
        // Deterministic for a seed.
        using (new TorchSeedScope(7)) Assert.Equal(y.data<float>().ToArray(), warp.ApplyToMaps(x, 1).data<float>().ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModalityAugmentation { FrequencyWarp = 0.6 }.Validate());
    }

    [Fact]
    public void OgmGeCoefficientsFollowThePaperOnAHandMadeBatch()
    {
        TorchRuntime.EnsureInitialized();
        // Four rows, labels 0,1,0,1. Audio's head puts 0.9 on the true class, the image's 0.5 (two classes, equal logits).
        var labels = tensor(new long[] { 0, 1, 0, 1 });
        float l = (float)Math.Log(9);   // softmax([l, 0]) = [0.9, 0.1]
        var audio = tensor(new float[] { l, 0, 0, l, l, 0, 0, l }, new long[] { 4, 2 });
        var image = zeros(4, 2);
        var present = new[] { ones(4), tensor(new float[] { 1, 1, 1, 0 }) };   // the image is missing on the last row
        var batch = new FusionBatch(new[] { zeros(4, 1), zeros(4, 1) }, present, labels, 4);
        var confidences = BalancedFusionLoss.Confidences(new FusionOutput(zeros(4, 2), zeros(4, 1), new[] { audio, image }), batch);
        Assert.Equal(3.6, confidences[0], 4);    // 4 × 0.9
        Assert.Equal(1.5, confidences[1], 4);    // 3 present rows × 0.5
        var k = BalancedFusionLoss.Coefficients(confidences, alpha: 0.5);
        Assert.Equal(1 - Math.Tanh(0.5 * (3.6 / 1.5 - 1)), k[0], 6);   // the dominant modality is slowed
        Assert.Equal(1.0, k[1]);                                         // the other keeps its gradient
        // Three modalities: each is compared with the mean of the others.
        var k3 = BalancedFusionLoss.Coefficients(new[] { 6.0, 2.0, 2.0 }, alpha: 1);
        Assert.Equal(1 - Math.Tanh(6.0 / 2.0 - 1), k3[0], 9);
        Assert.Equal(1.0, k3[1]); Assert.Equal(1.0, k3[2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BalancedFusionLoss(auxiliaryWeight: 0, alpha: 0.5));
    }

    private sealed class SignalRow { public float[] Audio { get; set; } = Array.Empty<float>(); }

    [Fact]
    public void PerClipNormalisationOfASilentClipIsFinite()
    {
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(SignalRow));
        schema["Audio"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 8000);
        var rng = new Random(1);
        var rows = new[] { new SignalRow { Audio = new float[8000] }, new SignalRow { Audio = Enumerable.Range(0, 8000).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray() } };
        var data = ml.Data.LoadFromEnumerable(rows, schema);
        foreach (var mode in new[] { SpectrogramNormalization.PerClipMean, SpectrogramNormalization.PerClipMeanVariance })
        {
            using var model = ml.Transforms.MelSpectrogram(new MelSpectrogramOptions
            {
                InputColumnName = "Audio", OutputColumnName = "Mel", SampleRate = 8000, FftSize = 256, Bands = 20, Normalization = mode,
            }).Fit(data);
            var mel = Columns.Vectors(model.Transform(data), "Mel");
            Assert.All(mel[0], v => Assert.True(Math.Abs(v) < 1e-4, $"silent clip value {v}"));   // silence: every band constant → 0
            Assert.All(mel[1], v => Assert.True(float.IsFinite(v)));
            // Each band of the noisy clip has mean 0 over time (and unit spread with variance normalisation).
            var band = Enumerable.Range(0, model.Frames).Select(t => (double)mel[1][3 * model.Frames + t]).ToArray();
            Assert.Equal(0, band.Average(), 4);
            if (mode == SpectrogramNormalization.PerClipMeanVariance) Assert.Equal(1, Math.Sqrt(band.Select(v => v * v).Average()), 3);
        }
        // The same normalisation inside the CNN encoder: a silent (constant) clip gives finite embeddings.
        using var encoder = Encoder(null, perClip: true);
        encoder.eval();
        using var silent = full(2, 128, (float)Math.Log(1e-6));
        Assert.All(Run(encoder, silent, 1), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void TemperatureScalingLowersTheEceOfAnOverConfidentMember()
    {
        // A member that is right 60% of the time but always 99% sure.
        var rng = new Random(4);
        var probs = new List<float[]>();
        var labels = new List<int>();
        for (int r = 0; r < 500; r++)
        {
            int y = rng.Next(3);
            int predicted = rng.NextDouble() < 0.6 ? y : (y + 1 + rng.Next(2)) % 3;
            var p = new float[3];
            for (int k = 0; k < 3; k++) p[k] = k == predicted ? 0.99f : 0.005f;
            probs.Add(p); labels.Add(y);
        }
        double before = Trainers.Evaluation.ScoredRows.From(probs.ToArray(), labels.ToArray(), 3).Calibration(15).ExpectedCalibrationError;
        double t = TemperatureScaling.FitTemperature(probs, labels);
        Assert.True(t > 1, $"an over-confident member needs a temperature above 1, got {t:F2}");
        var tempered = probs.Select(p => { var q = p.ToArray(); LateFusionMath.Temper(q, t); return q; }).ToArray();
        double after = Trainers.Evaluation.ScoredRows.From(tempered, labels.ToArray(), 3).Calibration(15).ExpectedCalibrationError;
        Assert.True(before > 0.3, $"ECE before {before:F3}");
        Assert.True(after < before / 3, $"ECE {before:F3} → {after:F3}");
        Assert.Equal(0.6, tempered.Max(q => q.Max()), 1);   // the confidence now matches the accuracy
    }
}
