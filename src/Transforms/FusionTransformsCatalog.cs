using Microsoft.ML;
using MLNetFusion.Runtime;
using MLNetFusion.Models;
using MLNetFusion.Transforms.Audio;
using MLNetFusion.Transforms.Text;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>
/// MLNetFusion audio featurization on <c>mlContext.Transforms</c> (audio loading, spectrograms, frame statistics; the trainable modality featurizers are in <c>FusionFeaturizersCatalog</c> (MLNetFusion.Trainers)): <see cref="LoadAudio(TransformsCatalog, string, string?, string?, int, double)"/>
/// and <see cref="MelSpectrogram(TransformsCatalog, string, string, int, int?, int)"/>.
/// Sample: <c>src/Samples/AudioFeaturizationSample.cs</c>.
/// </summary>
public static class FusionTransformsCatalog
{
    /// <summary>
    /// Loads WAV files named by <paramref name="inputColumnName"/> (relative to <paramref name="audioFolder"/>) into
    /// <c>Vector&lt;Single&gt;</c> of <c>sampleRate × durationSeconds</c> mono samples; resamples and crops/pads
    /// (keeping the start) as needed. Unreadable files throw; see <see cref="AudioLoadingOptions.OnError"/> to skip them.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Output column.</param>
    /// <param name="audioFolder">Folder for relative paths, or <c>null</c>.</param>
    /// <param name="inputColumnName">Path column; default <paramref name="outputColumnName"/>.</param>
    /// <param name="sampleRate">Target sample rate. Default 16000.</param>
    /// <param name="durationSeconds">Output duration. Default 1 s.</param>
    public static AudioLoadingEstimator LoadAudio(this TransformsCatalog catalog, string outputColumnName, string? audioFolder = null,
        string? inputColumnName = null, int sampleRate = AudioLoadingOptions.Defaults.SampleRate, double durationSeconds = AudioLoadingOptions.Defaults.DurationSeconds)
        => new(FusionEnvironment.FromCatalog(catalog), new AudioLoadingOptions
        {
            OutputColumnName = outputColumnName, AudioFolder = audioFolder, InputColumnName = inputColumnName, SampleRate = sampleRate,
            DurationSeconds = durationSeconds,
        });

    /// <summary>Loads audio with all options.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="AudioLoadingOptions"/>).</param>
    public static AudioLoadingEstimator LoadAudio(this TransformsCatalog catalog, AudioLoadingOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);

    /// <summary>
    /// Log-mel spectrogram of fixed-length samples (batched FFTs in torch; matches torchaudio's MelSpectrogram with
    /// HTK mel scale, Hann window, power 2, centred reflect padding). Output <c>Vector&lt;Single, bands, frames&gt;</c>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Output column.</param>
    /// <param name="inputColumnName">Samples column (from <c>LoadAudio</c>).</param>
    /// <param name="fftSize">n_fft. Default 400.</param>
    /// <param name="hopLength">Hop; default fftSize / 2.</param>
    /// <param name="bands">Mel bands. Default 64.</param>
    public static MelSpectrogramEstimator MelSpectrogram(this TransformsCatalog catalog, string outputColumnName, string inputColumnName,
        int fftSize = MelSpectrogramOptions.Defaults.FftSize, int? hopLength = null, int bands = MelSpectrogramOptions.Defaults.Bands)
        => new(FusionEnvironment.FromCatalog(catalog), new MelSpectrogramOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, FftSize = fftSize, HopLength = hopLength, Bands = bands });

    /// <summary>
    /// Per-band mean and standard deviation over the frames of a <c>[bands, frames]</c> spectrogram:
    /// <c>Vector&lt;Single, 2, bands&gt;</c>. Compact, shift-invariant audio features for early fusion with linear or tree trainers.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Output column.</param>
    /// <param name="inputColumnName">Spectrogram column (from <c>MelSpectrogram</c>).</param>
    public static FrameStatisticsEstimator SummarizeFrames(this TransformsCatalog catalog, string outputColumnName, string inputColumnName)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(FusionEnvironment.FromCatalog(catalog), new FrameStatisticsOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName });
    }

    /// <summary>
    /// Hashed token ids of a text column for MLNetFusion's trainable text encoder (<c>ModalityOptions.Text</c>): words,
    /// word bigrams and character trigrams, hashed into 65,536 buckets, in <c>Vector&lt;Single, 128&gt;</c>. An empty
    /// text is a missing modality (all NaN). See <see cref="TextTokenHashingEstimator"/>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Output column.</param>
    /// <param name="inputColumnName">Text column; default <paramref name="outputColumnName"/>.</param>
    /// <param name="maximumTokens">Token slots per row. Default 128.</param>
    public static TextTokenHashingEstimator HashTextTokens(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        int maximumTokens = TextTokenHashingOptions.Defaults.MaximumTokens)
        => new(FusionEnvironment.FromCatalog(catalog), new TextTokenHashingOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, MaximumTokens = maximumTokens });

    /// <summary>Hashed text tokens with all options.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="TextTokenHashingOptions"/>).</param>
    public static TextTokenHashingEstimator HashTextTokens(this TransformsCatalog catalog, TextTokenHashingOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);

    /// <summary>Log-mel spectrogram with all options.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="options">All options (see <see cref="MelSpectrogramOptions"/>).</param>
    public static MelSpectrogramEstimator MelSpectrogram(this TransformsCatalog catalog, MelSpectrogramOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new(FusionEnvironment.FromCatalog(catalog), options);
    }
}
