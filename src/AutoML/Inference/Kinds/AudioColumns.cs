using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Transforms.Audio;

namespace MLNetFusion.AutoML;

/// <summary>The preprocessing inferred for an audio column.</summary>
/// <param name="SampleRate">The most common sample rate; other files are resampled to it.</param>
/// <param name="ClipSeconds">Clip length: the 95th percentile of the decoded durations, rounded up to half a second, capped.</param>
/// <param name="FftSize">FFT size: the power of two nearest above 32 ms.</param>
/// <param name="HopLength">Hop: half the FFT size.</param>
/// <param name="MelBands">Mel bands.</param>
/// <param name="FilesDecoded">Files decoded to decide.</param>
/// <param name="PathsOutsideFolder">The column's sampled paths include absolute paths or paths leaving <see cref="ColumnInferenceResult.DataFolder"/>:
/// the CSV's author named them, so <c>LoadAudio</c> is allowed to read them (<c>AudioLoadingOptions.AllowPathsOutsideFolder</c>).</param>
public sealed record AudioColumnSettings(int SampleRate, double ClipSeconds, int FftSize, int HopLength, int MelBands, int FilesDecoded, bool PathsOutsideFolder = false)
    : ModalityColumnSettings
{
    /// <inheritdoc />
    public override string Summary => $"{SampleRate} Hz, {ClipSeconds:0.##} s clips, log-mel {MelBands} bands, FFT {FftSize}, hop {HopLength} ({FilesDecoded} files decoded)";
}

/// <summary>What audio column inference may decide (<c>ColumnInferenceOptions.For&lt;AudioColumnInferenceOptions&gt;(ModalityKind.Audio)</c>).</summary>
public sealed class AudioColumnInferenceOptions : ModalityColumnInferenceOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Clips are cut to at most this many seconds.</summary>
        public const double MaxClipSeconds = 10;
    }

    /// <summary>See <see cref="Defaults.MaxClipSeconds"/>.</summary>
    public double MaxClipSeconds { get; set; } = Defaults.MaxClipSeconds;

    /// <inheritdoc />
    public override void Validate()
    {
        Check.Positive(MaxClipSeconds);
        Check.InRange(MaxClipSeconds, 0, 600);
    }
}

/// <summary>Audio columns: paths to .wav files, loaded (<c>LoadAudio</c>) and turned into a log-mel spectrogram (<c>MelSpectrogram</c>) for a CNN.</summary>
internal sealed class AudioColumnInference : IModalityColumnInference
{
    public string? Recognize(string columnName, IReadOnlyList<string> values)
        => ColumnShare.OfPresent(values, v => v.EndsWith(".wav", StringComparison.OrdinalIgnoreCase)) >= 0.9 ? "paths to .wav files" : null;

    public ModalityColumnInferenceOptions CreateOptions() => new AudioColumnInferenceOptions();

    public string OutputColumnName(string inputColumnName, int columnsOfKind) => columnsOfKind == 1 ? FusionFeaturization.LogMel : inputColumnName + ".LogMel";

    public ModalityColumnSettings InferSettings(ModalityColumnContext column)
    {
        var options = column.OptionsAs(() => new AudioColumnInferenceOptions());
        var files = column.FilesToCheck();
        var rates = new List<int>(); var seconds = new List<double>();
        foreach (var (value, line) in files)
        {
            var full = column.ResolveFile(value, line, "WAV");
            var clip = column.Decode(() => WavDecoder.Decode(full), value, line, "WAV",
                "MLNetFusion reads PCM and IEEE-float WAV files; convert other formats, or mark the column Ignored.");
            if (clip.Samples.Length == 0)
                throw new InvalidDataException($"{column.Where(line)}: WAV file '{value}' has no samples." + Environment.NewLine +
                    "Hint: remove the row or give it a clip with sound.");
            rates.Add(clip.SampleRate);
            seconds.Add(clip.Samples.Length / (double)clip.Channels / clip.SampleRate);
        }
        int rate = rates.GroupBy(r => r).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Key).First().Key;
        if (rates.Max() > 4 * rates.Min())
            throw new InvalidDataException($"Column '{column.InputColumnName}' of '{column.SourcePath}' mixes sample rates from {rates.Min()} Hz to {rates.Max()} Hz in its first {files.Count} files: " +
                "resampling a clip up by more than 4× invents no content, so those clips would look unlike the others." + Environment.NewLine +
                "Hint: resample the files to one rate first (e.g. sox in.wav -r 16000 out.wav), or split the data by rate.");
        var sorted = seconds.OrderBy(s => s).ToList();
        double p95 = sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(0.95 * sorted.Count) - 1)];
        double clipSeconds = Math.Min(options.MaxClipSeconds, Math.Max(0.5, Math.Ceiling(p95 * 2 - 1e-9) / 2));
        int fft = 1; while (fft < 0.032 * rate) fft *= 2;
        var root = Path.GetFullPath(column.DataFolder);
        bool outside = files.Any(f => Path.IsPathRooted(f.value) || Path.GetRelativePath(root, Path.GetFullPath(Path.Combine(root, f.value))).StartsWith("..", StringComparison.Ordinal));
        return new AudioColumnSettings(rate, clipSeconds, fft, fft / 2, Math.Min(40, fft / 4), files.Count, outside);
    }

    public string EncoderNote(ModalityColumnContext column) => "a CNN on the log-mel spectrogram";

    public ModalityFeaturization Featurize(MLContext ml, ModalityColumnContext column)
    {
        var s = column.SettingsAs<AudioColumnSettings>();
        string c = column.InputColumnName, mel = column.OutputColumnName;
        string samples = mel == FusionFeaturization.LogMel ? "Audio" : c + ".Audio";
        var chain = ml.Transforms.LoadAudio(new AudioLoadingOptions
            {
                OutputColumnName = samples, InputColumnName = c, AudioFolder = column.DataFolder, SampleRate = s.SampleRate, DurationSeconds = s.ClipSeconds, Fit = AudioFit.Center,
                AllowPathsOutsideFolder = s.PathsOutsideFolder,
            })
            .Append(ml.Transforms.MelSpectrogram(mel, samples, s.FftSize, s.HopLength, s.MelBands));
        return new ModalityFeaturization(chain, ModalityOptions.Audio(mel, c));
    }
}
