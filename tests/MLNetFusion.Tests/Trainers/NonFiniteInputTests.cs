using MLNetFusion.Transforms.Audio;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Merge;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Infinite values never become a silent model or a silent prediction (part of the reliability work).</summary>
public class NonFiniteInputTests
{
    private static IEstimator<ITransformer> Merge(MLContext ml) => ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions
    {
        Modalities = new() { ModalityOptions.Image("Image", "image"), ModalityOptions.Tabular("Tab", "tab", 16) }, Epochs = 1, Seed = 1,
    });

    [Fact]
    public void InfinityInTrainingFeaturesIsAnErrorNamingTheRowAndColumn()
    {
        var ml = new MLContext(seed: 1);
        var rows = ToyRow.Make(60, 1);
        rows[5].Tab[2] = float.PositiveInfinity;
        var ex = Assert.Throws<InvalidOperationException>(() => Merge(ml).Fit(ToyRow.Load(ml, rows)));
        Assert.StartsWith("Row 5: column 'Tab' has 1 infinite value(s) (the first is +Inf at index 2).", ex.Message);
        Assert.Contains("Hint: infinities usually come from a log of zero", ex.Message);
    }

    [Fact]
    public void InfinityAtPredictionIsAnErrorNotANaNScore()
    {
        var ml = new MLContext(seed: 1);
        using var model = (IDisposable)Merge(ml).Fit(ToyRow.Load(ml, ToyRow.Make(60, 1)));
        var rows = ToyRow.Make(10, 2);
        rows[7].Image[3] = float.NegativeInfinity;
        var scored = ((ITransformer)model).Transform(ToyRow.Load(ml, rows));
        var ex = Assert.Throws<InvalidOperationException>(() => scored.GetColumn<Microsoft.ML.Data.VBuffer<float>>("Score").ToList());
        Assert.StartsWith("Row 7: column 'Image' has 1 infinite value(s) (the first is -Inf at index 3).", ex.Message);
    }

    [Theory]
    [InlineData(MLNetFusion.Data.DataCaching.InMemory)]
    [InlineData(MLNetFusion.Data.DataCaching.Streaming)]
    public void AModalityMostlyMissingInTrainingIsAWarningNamingTheColumn(MLNetFusion.Data.DataCaching caching)
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        var rows = ToyRow.Make(200, 1);
        for (int i = 0; i < 140; i++) rows[i].Image = Enumerable.Repeat(float.NaN, 64).ToArray();
        var options = new MergeFusionOptions
        {
            Modalities = new() { ModalityOptions.Image("Image", "image"), ModalityOptions.Tabular("Tab", "tab", 16) }, Epochs = 2, Seed = 1, Caching = caching,
        };
        using (ml.MulticlassClassification.Trainers.MergeFusion(options).Fit(ToyRow.Load(ml, rows))) { }
        lock (messages)
        {
            Assert.Single(messages, m => m.Contains("Column 'Image' is missing (entirely NaN) in 140 of 200 training rows"));
            Assert.DoesNotContain(messages, m => m.Contains("Column 'Tab' is missing"));
        }
    }

    [Fact]
    public void OptingInPredictsACorruptModalityAsMissingAndCountsTheRows()
    {
        var ml = new MLContext(seed: 1);
        var train = ToyRow.Load(ml, ToyRow.Make(60, 1));
        using var model = ml.MulticlassClassification.Trainers.MergeFusion(new MLNetFusion.Trainers.Merge.MergeFusionOptions
        {
            Modalities = new() { ModalityOptions.Tabular("Tab", "tab", 16), new ModalityOptions { Name = "image", ColumnName = "Image", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4 }, OutputWidth = 16 } } },
            Epochs = 2, NonFiniteInputs = NonFiniteInputHandling.TreatAsMissing,
        }).Fit(train);
        var rows = ToyRow.Make(10, 2);
        rows[7].Image[3] = float.NegativeInfinity;
        rows[3].Image[5] = float.NaN;                       // partly NaN: corrupt, not missing
        var missing = ToyRow.Make(10, 2);
        missing[7].Image = Enumerable.Repeat(float.NaN, 64).ToArray();
        missing[3].Image = Enumerable.Repeat(float.NaN, 64).ToArray();
        var expected = Columns.Vectors(model.Transform(ToyRow.Load(ml, missing)), "Score");
        Assert.Equal(0, model.RowsWithNonFiniteInputs);
        Assert.Equal(expected, Columns.Vectors(model.Transform(ToyRow.Load(ml, rows)), "Score"));
        Assert.Equal(2, model.RowsWithNonFiniteInputs);

        using var ms = new MemoryStream();
        ml.Model.SaveFusionModel(model, train.Schema, ms);
        using var loaded = (FusionPredictionTransformer)ml.Model.LoadFusionModel(new MemoryStream(ms.ToArray()), out _);
        Assert.Equal(NonFiniteInputHandling.TreatAsMissing, loaded.NonFiniteInputs);
        Assert.Equal(expected, Columns.Vectors(loaded.Transform(ToyRow.Load(ml, rows)), "Score"));
        loaded.NonFiniteInputs = NonFiniteInputHandling.Error;
        var ex = Assert.Throws<InvalidOperationException>(() => Columns.Vectors(loaded.Transform(ToyRow.Load(ml, rows)), "Score"));
        Assert.StartsWith("Row 3: column 'Image' has 1 NaN values out of 64.", ex.Message);
    }
}

/// <summary>Reliability: divergence, audio files that are not audio, paths that leave their folder, options that are not numbers.</summary>
public class ReliabilityTests
{
    [Fact]
    public void ADivergentRunIsAnErrorNamingTheEpochAndTheLearningRate()
    {
        double first = double.NaN;
        TrainingLoopProbe.Check(2.3, ref first, 1, 1, 1e-3);                 // a normal first batch
        TrainingLoopProbe.Check(1.9, ref first, 1, 2, 1e-3);
        var nan = Assert.Throws<InvalidOperationException>(() => TrainingLoopProbe.Check(double.NaN, ref first, 3, 7, 0.5));
        Assert.StartsWith("Training diverged in epoch 3, batch 7: the loss became NaN at learning rate 0.5.", nan.Message);
        Assert.Contains("Hint: lower LearningRate (for example to 0.05)", nan.Message);
        var exploded = Assert.Throws<InvalidOperationException>(() => TrainingLoopProbe.Check(5000, ref first, 4, 1, 0.5));
        Assert.Contains("times the first batch's", exploded.Message);

        // End to end: an absurd learning rate makes the loss non-finite, and Fit says so instead of returning a broken model.
        var ml = new MLContext(seed: 1);
        var trainer = ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions
        {
            Modalities = new() { ModalityOptions.Image("Image", "image"), ModalityOptions.Tabular("Tab", "tab", 16) }, Epochs = 3, Seed = 1,
            LearningRate = 1e12, GradientClipNorm = 0, WeightDecay = 0,
        });
        var fit = Assert.Throws<InvalidOperationException>(() => trainer.Fit(ToyRow.Load(ml, ToyRow.Make(120, 1))));
        Assert.StartsWith("Training merge fusion of image, tab diverged in epoch", fit.Message);

        // Inside late fusion, the error also says which member and which of its fits (issue 41).
        var late = ml.MulticlassClassification.Trainers.LateFusion(new MLNetFusion.Trainers.LateFusion.LateFusionOptions
        {
            Members = new()
            {
                new("image", "Image", ml.MulticlassClassification.Trainers.NetworkFusion(new MLNetFusion.Trainers.Network.NetworkFusionOptions
                    { Modalities = new() { ModalityOptions.Image("Image", "image") }, Epochs = 3, Seed = 1, LearningRate = 1e12, GradientClipNorm = 0, WeightDecay = 0 })),
                new("tab", "Tab", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Tab")),
            },
            Combiner = MLNetFusion.Trainers.LateFusion.LateFusionCombiner.Average, Seed = 1,
        });
        var member = Assert.Throws<InvalidOperationException>(() => late.Fit(ToyRow.Load(ml, ToyRow.Make(120, 1))));
        Assert.StartsWith("Late-fusion member 'image' (final fit on all rows): Training network fusion of image diverged in epoch", member.Message);
        Assert.Contains("Hint: lower LearningRate", member.Message);
    }

    private sealed class PathRow { public string Path { get; set; } = ""; }

    [Fact]
    public void AudioThatIsNotAudioIsAClearError()
    {
        var folder = TestData.TempFolder("reliability-audio");
        var sub = Path.Combine(folder, "clips");
        Directory.CreateDirectory(sub);
        Directory.CreateDirectory(Path.Combine(sub, "adir.wav"));
        WavWriter.Write(Path.Combine(sub, "empty.wav"), ReadOnlySpan<float>.Empty, 8000);
        WavWriter.Write(Path.Combine(sub, "nan.wav"), new[] { 0.1f, float.NaN, 0.2f }, 8000, WavEncoding.Float32);
        WavWriter.Write(Path.Combine(sub, "huge.wav"), new[] { 0.1f, 1e30f }, 8000, WavEncoding.Float32);
        WavWriter.Write(Path.Combine(folder, "outside.wav"), new[] { 0.1f, 0.2f }, 8000);
        var ml = new MLContext(seed: 1);
        string Error(string path, AudioErrorPolicy policy = AudioErrorPolicy.Fail)
        {
            var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = path } });
            var model = ml.Transforms.LoadAudio(new AudioLoadingOptions { OutputColumnName = "Audio", InputColumnName = "Path", AudioFolder = sub, SampleRate = 8000, OnError = policy }).Fit(data);
            return Assert.Throws<InvalidOperationException>(() => model.Transform(data).GetColumn<VBuffer<float>>("Audio").ToList()).Message;
        }
        Assert.Contains("is a directory, not a WAV file", Error("adir.wav"));
        Assert.Contains("holds no samples", Error("empty.wav"));
        Assert.Contains("sample 1 is NaN", Error("nan.wav"));
        Assert.Contains("sample 1 is 1E+30", Error("huge.wav"));
        var outside = Error("../outside.wav");
        Assert.StartsWith("Row 0: column 'Path': '../outside.wav' leaves the audio folder", outside);
        Assert.Contains("AllowPathsOutsideFolder", outside);
        Assert.Contains("leaves the audio folder", Error(Path.Combine(folder, "outside.wav")));
        Assert.StartsWith("Row 0: column 'Path': 'adir.wav/../../outside.wav' leaves the audio folder", Error("adir.wav/../../outside.wav"));   // '..' after a segment
        // Even under Skip, leaving the folder is an error (it is not an unreadable file); an empty file is counted as missing.
        Assert.Contains("leaves the audio folder", Error("../outside.wav", AudioErrorPolicy.Skip));
        var skip = ml.Transforms.LoadAudio(new AudioLoadingOptions { OutputColumnName = "Audio", InputColumnName = "Path", AudioFolder = sub, SampleRate = 8000, OnError = AudioErrorPolicy.Skip });
        var rows = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "empty.wav" } });
        var skipped = skip.Fit(rows);
        Assert.All(skipped.Transform(rows).GetColumn<VBuffer<float>>("Audio").Single().DenseValues(), v => Assert.True(float.IsNaN(v)));
        Assert.Equal(1, skipped.SkippedRows);
        // Allowed on purpose: the same path loads.
        var allowed = ml.Transforms.LoadAudio(new AudioLoadingOptions { OutputColumnName = "Audio", InputColumnName = "Path", AudioFolder = sub, SampleRate = 8000, AllowPathsOutsideFolder = true });
        var outsideRow = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "../outside.wav" } });
        Assert.Equal(0.1f, allowed.Fit(outsideRow).Transform(outsideRow).GetColumn<VBuffer<float>>("Audio").Single().GetValues()[0], 3);
    }

    [Fact]
    public void SpectrogramOptionsThatAreNotNumbersAreErrors()
    {
        var ml = new MLContext(seed: 1);
        foreach (var (options, parameter) in new (MelSpectrogramOptions, string)[]
        {
            (new() { SampleRate = 8000, MaxFrequency = double.NaN }, "MaxFrequency"),
            (new() { SampleRate = 8000, MaxFrequency = double.PositiveInfinity }, "MaxFrequency"),
            (new() { SampleRate = 8000, MinFrequency = -5 }, "MinFrequency"),
            (new() { SampleRate = 8000, MinFrequency = double.NaN }, "MinFrequency"),
            (new() { SampleRate = 8000, Power = double.NaN }, "Power"),
            (new() { SampleRate = 8000, LogOffset = double.PositiveInfinity }, "LogOffset"),
        })
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.MelSpectrogram(options));
            Assert.Equal(parameter, ex.ParamName);
        }
    }
}

/// <summary>Reaches the training loop's divergence check.</summary>
internal static class TrainingLoopProbe
{
    public static void Check(double loss, ref double first, int epoch, long batch, double lr) => MLNetFusion.Training.TrainingLoop.CheckDivergence(loss, ref first, epoch, batch, lr);
}
