using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Transforms.Audio;
using Xunit;

namespace MLNetFusion.Tests;

public class LoadAudioTests
{
    private sealed class PathRow { public string Path { get; set; } = ""; }

    private static (string folder, MLContext ml) Setup()
    {
        var folder = TestData.TempFolder("audio");
        // 0.25 s at 8 kHz: 2000 samples of 0.5; 1.5 s at 16 kHz stereo.
        WavWriter.Write(Path.Combine(folder, "short.wav"), Enumerable.Repeat(0.5f, 2000).ToArray(), 8000, WavEncoding.Float32);
        var stereo = new float[24000 * 2];
        for (int i = 0; i < 24000; i++) { stereo[2 * i] = i < 12000 ? 0.25f : 0.75f; stereo[2 * i + 1] = stereo[2 * i]; }
        File.WriteAllBytes(Path.Combine(folder, "long.wav"), WavWriter.Encode(stereo, 16000, 2, WavEncoding.Float32));
        File.WriteAllText(Path.Combine(folder, "broken.wav"), "not audio");
        return (folder, new MLContext(seed: 1));
    }

    [Fact]
    public void PadsCropsAndResamplesToTheTarget()
    {
        var (folder, ml) = Setup();
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "short.wav" }, new PathRow { Path = "long.wav" }, new PathRow { Path = "" } });
        var est = ml.Transforms.LoadAudio("Audio", folder, "Path", sampleRate: 8000, durationSeconds: 1.0);
        var model = est.Fit(data);
        var output = model.Transform(data);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 8000), output.Schema["Audio"].Type);
        int rate = 0;
        output.Schema["Audio"].Annotations.GetValue("SampleRate", ref rate);
        Assert.Equal(8000, rate);
        var rows = Columns.Vectors(output, "Audio");
        // Short clip: the start kept, silence padded at the end.
        Assert.All(rows[0].Take(1990), v => Assert.Equal(0.5f, v, 3));
        Assert.All(rows[0].Skip(2010), v => Assert.Equal(0f, v));
        // Long clip: 16 kHz resampled to 8 kHz, the first second kept (value 0.25 then 0.75 after 0.75 s).
        Assert.Equal(0.25f, rows[1][3000], 2);
        Assert.Equal(0.75f, rows[1][7000], 2);
        // Empty path: modality missing, all NaN, counted.
        Assert.All(rows[2], v => Assert.True(float.IsNaN(v)));
        Assert.Equal(1, model.MissingRows);
    }

    [Fact]
    public void CenterFitKeepsTheMiddle()
    {
        var (folder, ml) = Setup();
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "short.wav" } });
        var model = ml.Transforms.LoadAudio(new AudioLoadingOptions { OutputColumnName = "Audio", InputColumnName = "Path", AudioFolder = folder, SampleRate = 8000, Fit = AudioFit.Center }).Fit(data);
        var row = Columns.Vectors(model.Transform(data), "Audio")[0];
        Assert.Equal(0f, row[2990]);
        Assert.Equal(0.5f, row[3010], 3);
        Assert.Equal(0.5f, row[4990], 3);
        Assert.Equal(0f, row[5010]);
    }

    [Fact]
    public void MissingFileFailsNamingRowAndFile()
    {
        var (folder, ml) = Setup();
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "short.wav" }, new PathRow { Path = "gone.wav" } });
        var output = ml.Transforms.LoadAudio("Audio", folder, "Path", 8000).Fit(data).Transform(data);
        var ex = Assert.Throws<InvalidOperationException>(() => Columns.Vectors(output, "Audio"));
        Assert.StartsWith($"Row 1: cannot load audio '{Path.Combine(folder, "gone.wav")}' from column 'Path': the file does not exist", ex.Message);
        Assert.Contains("Hint:", ex.Message);
    }

    [Fact]
    public void SkipPolicyOutputsNaNCountsAndLogs()
    {
        var (folder, ml) = Setup();
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) warnings.Add(e.Message); };
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "broken.wav" }, new PathRow { Path = "short.wav" } });
        var model = ml.Transforms.LoadAudio(new AudioLoadingOptions { OutputColumnName = "Audio", InputColumnName = "Path", AudioFolder = folder, SampleRate = 8000, OnError = AudioErrorPolicy.Skip }).Fit(data);
        var rows = Columns.Vectors(model.Transform(data), "Audio");
        Assert.All(rows[0], v => Assert.True(float.IsNaN(v)));
        Assert.Equal(0.5f, rows[1][0], 3);
        Assert.Equal(1, model.SkippedRows);
        Assert.Contains(warnings, w => w.Contains("Row 0") && w.Contains("broken.wav") && w.Contains("not a RIFF/WAVE file"));
        // Users drop skipped rows with ML.NET's own filter.
        Assert.Single(ml.Data.FilterRowsByMissingValues(model.Transform(data), "Audio").GetColumn<string>("Path"));
    }

    [Fact]
    public void WrongInputTypeIsRejectedInMLNetWords()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Path = 3f } });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LoadAudio("Audio", null, "Path").Fit(data));
        Assert.StartsWith("Schema mismatch for input column 'Path': expected String (a file path), got Single.", ex.Message);
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.LoadAudio("Audio", null, "Nope").Fit(data));
        Assert.StartsWith("Could not find input column 'Nope'.", ex2.Message);
    }
}

public class MelSpectrogramTests
{
    private sealed class SignalRow { public float[] Audio { get; set; } = Array.Empty<float>(); }

    [Fact]
    public void MatchesTorchaudioReference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "melspec_reference.json")));
        var ml = new MLContext(seed: 1);
        int cases = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var cfg = c.GetProperty("config");
            var signal = c.GetProperty("signal").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            var reference = c.GetProperty("mel").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            var shape = c.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            var schema = SchemaDefinition.Create(typeof(SignalRow));
            schema["Audio"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, signal.Length);
            var data = ml.Data.LoadFromEnumerable(new[] { new SignalRow { Audio = signal } }, schema);
            var options = new MelSpectrogramOptions
            {
                InputColumnName = "Audio", OutputColumnName = "Mel", SampleRate = cfg.GetProperty("sample_rate").GetInt32(),
                FftSize = cfg.GetProperty("n_fft").GetInt32(),
                WindowLength = cfg.GetProperty("win_length").ValueKind == JsonValueKind.Null ? null : cfg.GetProperty("win_length").GetInt32(),
                HopLength = cfg.GetProperty("hop_length").ValueKind == JsonValueKind.Null ? null : cfg.GetProperty("hop_length").GetInt32(),
                Bands = cfg.GetProperty("n_mels").GetInt32(), MinFrequency = cfg.GetProperty("f_min").GetDouble(),
                MaxFrequency = cfg.GetProperty("f_max").ValueKind == JsonValueKind.Null ? null : cfg.GetProperty("f_max").GetDouble(),
                ApplyLog = false,
            };
            using var model = ml.Transforms.MelSpectrogram(options).Fit(data);
            var output = model.Transform(data);
            var type = (VectorDataViewType)output.Schema["Mel"].Type;
            Assert.Equal(shape, type.Dimensions.ToArray());
            Assert.Equal(shape[1], model.Frames);
            var mel = Columns.Vectors(output, "Mel")[0];
            double maxRel = 0;
            for (int i = 0; i < mel.Length; i++)
                maxRel = Math.Max(maxRel, Math.Abs(mel[i] - reference[i]) / Math.Max(Math.Abs(reference[i]), 1e-6));
            Assert.True(maxRel < 1e-4, $"case {cases}: max relative error {maxRel:E2}");

            // The log output is log(mel + offset) of the same values.
            options.ApplyLog = true;
            using var logModel = ml.Transforms.MelSpectrogram(options).Fit(data);
            var logMel = Columns.Vectors(logModel.Transform(data), "Mel")[0];
            for (int i = 0; i < mel.Length; i += 97) Assert.Equal(Math.Log(reference[i] + 1e-6), logMel[i], 3);
            cases++;
        }
        Assert.Equal(3, cases);
    }

    [Theory]
    [InlineData(1e30f)]
    [InlineData(-3e38f)]
    [InlineData(1e20f)]
    public void ExtremeButFiniteSamplesGiveFiniteLogMelOrANamedError(float amplitude)
    {
        // Issue 41: a clip of finite samples of 1e30 gave an all-NaN log-mel, silently read as a missing modality.
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(SignalRow));
        schema["Audio"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 2000);
        var quiet = Enumerable.Range(0, 2000).Select(i => (float)Math.Sin(i * 0.3) * 0.5f).ToArray();
        var loud = quiet.Select((v, i) => i % 7 == 0 ? amplitude : v * amplitude).ToArray();
        var data = ml.Data.LoadFromEnumerable(new[] { new SignalRow { Audio = quiet }, new SignalRow { Audio = loud } }, schema);
        foreach (int fft in new[] { 256, 400 })   // the double-precision kernel (powers of two) and libtorch's FFT
        foreach (var normalization in new[] { SpectrogramNormalization.None, SpectrogramNormalization.PerClipMeanVariance })
        {
            using var model = ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { InputColumnName = "Audio", OutputColumnName = "Mel", SampleRate = 8000, FftSize = fft, HopLength = 128, Bands = 40, Normalization = normalization }).Fit(data);
            var rows = Columns.Vectors(model.Transform(data), "Mel");
            Assert.All(rows[0], v => Assert.True(float.IsFinite(v)));
            Assert.All(rows[1], v => Assert.True(float.IsFinite(v), $"{normalization}: the log-mel of a clip at {amplitude:G3} holds {v}"));
            if (normalization == SpectrogramNormalization.None) Assert.True(rows[1].Average() > rows[0].Average() + 20, "the loud clip's log-mel is louder");
        }
        // Without the log, the power of such a clip exceeds a float: an error that names the row, not a row of infinities.
        using var power = ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { InputColumnName = "Audio", OutputColumnName = "Mel", SampleRate = 8000, FftSize = 256, HopLength = 128, Bands = 40, ApplyLog = false }).Fit(data);
        if (Math.Abs(amplitude) < 1e17f) { Assert.All(Columns.Vectors(power.Transform(data), "Mel")[1], v => Assert.True(float.IsFinite(v))); return; }
        var ex = Assert.Throws<InvalidOperationException>(() => Columns.Vectors(power.Transform(data), "Mel"));
        Assert.StartsWith("Row 1: column 'Audio' gives a mel value of ∞", ex.Message.Replace("Infinity", "∞"));
        Assert.Contains("Hint: scale the clip to [-1, 1]", ex.Message);
    }

    [Fact]
    public void MissingAudioStaysMissingAndRateComesFromLoadAudio()
    {
        var folder = TestData.TempFolder("mel");
        WavWriter.Write(Path.Combine(folder, "a.wav"), Enumerable.Range(0, 8000).Select(i => (float)Math.Sin(i * 0.3)).ToArray(), 8000);
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Path = "a.wav" }, new { Path = "" } });
        var pipeline = ml.Transforms.LoadAudio("Audio", folder, "Path", 8000, 1.0).Append(ml.Transforms.MelSpectrogram("Mel", "Audio", 256, 128, 40));
        var model = pipeline.Fit(data);
        var output = model.Transform(data);
        Assert.Equal(new[] { 40, 63 }, ((VectorDataViewType)output.Schema["Mel"].Type).Dimensions.ToArray());
        var rows = Columns.Vectors(output, "Mel");
        Assert.All(rows[0], v => Assert.False(float.IsNaN(v)));
        Assert.All(rows[1], v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void TheDoublePrecisionKernelIsSavedAndFilesWrittenBeforeItKeepTheirSinglePrecisionPath()
    {
        var folder = TestData.TempFolder("mel-precision");
        var r = new Random(3);
        for (int k = 0; k < 4; k++) WavWriter.Write(Path.Combine(folder, $"{k}.wav"), Enumerable.Range(0, 8000).Select(i => (float)(0.3 * Math.Sin(i * (0.05 + 0.1 * k)) + 1e-3 * r.NextDouble())).ToArray(), 8000);
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 4).Select(k => new { Path = $"{k}.wav" }));
        var model = ml.Transforms.LoadAudio("Audio", folder, "Path", 8000, 1.0).Append(ml.Transforms.MelSpectrogram("Mel", "Audio", 256, 128, 40)).Fit(data);
        var mel = model.OfType<MelSpectrogramTransformer>().Single();
        Assert.True(mel.DoublePrecision);
        var expected = Columns.Vectors(model.Transform(data), "Mel");
        string path = Path.Combine(folder, "mel.zip");
        ml.Model.SaveFusionModel(model, data.Schema, path);
        var loaded = ml.Model.LoadFusionModel(path, out _);
        Assert.True(((IEnumerable<ITransformer>)loaded).OfType<MelSpectrogramTransformer>().Single().DoublePrecision);
        Assert.Equal(expected, Columns.Vectors(loaded.Transform(data), "Mel"));   // bit for bit

        // The single-precision tensor path (what version-1 files, whose config has no DoublePrecision, load as: the golden
        // files of Fixtures/models-v2 score bit for bit through it) is saved as such, and stays within float32 rounding of
        // the kernel (the log of the quietest bands differs most).
        var audio = model.Take(1).Single().Transform(data);
        using var singleMel = new MelSpectrogramTransformer(mel.Options, mel.InputLength, 8000, doublePrecision: false);
        Assert.False(singleMel.DoublePrecision);
        string v1 = Path.Combine(folder, "mel-single.zip");
        ml.Model.SaveFusionModel(singleMel, audio.Schema, v1);
        var old = ml.Model.LoadFusionModel(v1, out _);
        Assert.False((old as MelSpectrogramTransformer ?? ((IEnumerable<ITransformer>)old).OfType<MelSpectrogramTransformer>().Single()).DoublePrecision);
        Assert.Equal(Columns.Vectors(singleMel.Transform(audio), "Mel"), Columns.Vectors(old.Transform(audio), "Mel"));
        var single = Columns.Vectors(old.Transform(audio), "Mel");
        double worst = expected.Zip(single).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
        Assert.InRange(worst, 1e-9, 1e-3);
    }

    [Theory]
    [InlineData(256, 128, 8000, 2.0, SpectrogramNormalization.PerClipMeanVariance)]   // 63 frames: 15 groups of four and 3 on the scalar path
    [InlineData(64, 16, 1000, 1.0, SpectrogramNormalization.None)]                     // 63 frames, power 1 (scalar per lane)
    [InlineData(512, 100, 4000, 2.0, SpectrogramNormalization.PerClipMean)]            // 41 frames
    public void TheKernelsFourFramesAtATimeEqualItsScalarPathBitForBit(int fft, int hop, int samples, double power, SpectrogramNormalization normalization)
    {
        var options = new MelSpectrogramOptions { InputColumnName = "Audio", OutputColumnName = "Mel", FftSize = fft, HopLength = hop, Bands = 40, Power = power, Normalization = normalization };
        using var mel = new MelSpectrogramTransformer(options, samples, 8000);
        var vectors = mel.Kernel!;
        Assert.Equal(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated, vectors.Vectorized);   // on a CPU without them both paths are scalar
        var scalar = vectors.Scalar();
        Assert.False(scalar.Vectorized);
        var r = new Random(5);
        int size = mel.Bands * mel.Frames;
        var (a, b) = (new float[size], new float[size]);
        for (int clip = 0; clip < 20; clip++)
        {
            // Loud, quiet and silent clips: silence makes bands of zero spread, quiet ones the log floor.
            double gain = clip % 3 == 0 ? 1 : clip % 3 == 1 ? 1e-4 : 0;
            var x = Enumerable.Range(0, samples).Select(i => (float)(gain * (Math.Sin(i * 0.01 * (clip + 1)) + r.NextDouble() - 0.5))).ToArray();
            vectors.Compute(x, a, new MelKernel.Scratch(vectors));
            scalar.Compute(x, b, new MelKernel.Scratch(scalar));
            Assert.Equal(b.Select(BitConverter.SingleToInt32Bits), a.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void UnknownSampleRateHasAClearError()
    {
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(SignalRow));
        schema["Audio"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1000);
        var data = ml.Data.LoadFromEnumerable(new[] { new SignalRow { Audio = new float[1000] } }, schema);
        var ex = Assert.Throws<ArgumentException>(() => ml.Transforms.MelSpectrogram("Mel", "Audio").Fit(data));
        Assert.StartsWith("The sample rate of column 'Audio' is unknown.", ex.Message);
    }
}
