using MLNetFusion.Transforms.Audio;
using Xunit;

namespace MLNetFusion.Tests;

public class WavDecoderTests
{
    private static float[] Ramp(int n, int channels)
    {
        // Distinct values per channel so a wrong interleave or downmix is caught.
        var s = new float[n * channels];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < channels; c++)
                s[i * channels + c] = (float)(0.8 * Math.Sin(2 * Math.PI * (i + 1) / 37.0) * (c == 0 ? 1 : -0.5));
        return s;
    }

    [Theory]
    [InlineData(WavEncoding.Pcm8, 1, false, 1.0 / 64)]
    [InlineData(WavEncoding.Pcm16, 1, false, 1.0 / 16384)]
    [InlineData(WavEncoding.Pcm24, 2, false, 1e-6)]
    [InlineData(WavEncoding.Pcm32, 1, true, 1e-7)]
    [InlineData(WavEncoding.Float32, 3, false, 0)]
    [InlineData(WavEncoding.Float64, 2, true, 1e-7)]
    [InlineData(WavEncoding.Pcm16, 2, true, 1.0 / 16384)]
    public void DecodesKnownContent(WavEncoding encoding, int channels, bool extensible, double tolerance)
    {
        const int frames = 500;
        var interleaved = Ramp(frames, channels);
        // An unknown chunk of odd size (padding byte) before the data chunk must be skipped.
        var bytes = WavWriter.Encode(interleaved, 22050, channels, encoding, extensible, new[] { ("LIST", new byte[] { 1, 2, 3 }) });
        var clip = WavDecoder.Decode(bytes, "test.wav");
        Assert.Equal(22050, clip.SampleRate);
        Assert.Equal(channels, clip.Channels);
        Assert.Equal(frames, clip.Samples.Length);
        for (int i = 0; i < frames; i++)
        {
            double expected = 0;
            for (int c = 0; c < channels; c++) expected += interleaved[i * channels + c];
            expected /= channels;
            Assert.True(Math.Abs(clip.Samples[i] - expected) <= tolerance + 1e-7, $"frame {i}: {clip.Samples[i]} vs {expected}");
        }
    }

    [Fact]
    public void MissingFileNamesTheFile()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => WavDecoder.Decode("/nonexistent/clip.wav"));
        Assert.Contains("/nonexistent/clip.wav", ex.Message);
    }

    [Fact]
    public void NotRiffWave()
    {
        var ex = Assert.Throws<WavFormatException>(() => WavDecoder.Decode("ID3 this is an mp3"u8, "song.mp3"));
        Assert.Equal("'song.mp3' is not a RIFF/WAVE file (it does not start with 'RIFF....WAVE').", ex.Message);
    }

    [Fact]
    public void TruncatedData()
    {
        var bytes = WavWriter.Encode(Ramp(100, 1), 8000);
        var cut = bytes.AsSpan(0, bytes.Length - 51).ToArray();
        var ex = Assert.Throws<WavFormatException>(() => WavDecoder.Decode(cut, "cut.wav"));
        Assert.Equal("'cut.wav' is truncated: the 'data' chunk declares 200 bytes but only 149 remain.", ex.Message);
    }

    [Fact]
    public void UnsupportedFormatCode()
    {
        var bytes = WavWriter.Encode(Ramp(10, 1), 8000);
        bytes[20] = 7; // mu-law
        var ex = Assert.Throws<WavFormatException>(() => WavDecoder.Decode(bytes, "ulaw.wav"));
        Assert.StartsWith("'ulaw.wav' uses WAVE format code 7 (mu-law), which is not supported.", ex.Message);
    }

    [Fact]
    public void ZeroChannels()
    {
        var bytes = WavWriter.Encode(Ramp(10, 1), 8000);
        bytes[22] = 0; bytes[23] = 0;
        var ex = Assert.Throws<WavFormatException>(() => WavDecoder.Decode(bytes, "mute.wav"));
        Assert.Equal("'mute.wav' declares zero channels.", ex.Message);
    }
}

public class ResamplerTests
{
    private static float[] Sine(double freq, int rate, double seconds, double amp = 0.5)
        => Enumerable.Range(0, (int)(rate * seconds)).Select(i => (float)(amp * Math.Sin(2 * Math.PI * freq * i / rate))).ToArray();

    private static double Rms(ReadOnlySpan<float> x) { double s = 0; foreach (var v in x) s += v * v; return Math.Sqrt(s / x.Length); }

    [Fact]
    public void DownsamplingKeepsPassbandAndMatchesAnalyticSine()
    {
        var y = new Resampler(44100, 8000).Process(Sine(1000, 44100, 1.0));
        Assert.Equal(8000, y.Length);
        var expected = Sine(1000, 8000, 1.0);
        // Away from the edges the band-limited result equals the sine sampled at 8 kHz.
        double maxErr = 0;
        for (int i = 200; i < 7800; i++) maxErr = Math.Max(maxErr, Math.Abs(y[i] - expected[i]));
        Assert.True(maxErr < 2e-3, $"max error {maxErr}");
    }

    [Fact]
    public void DownsamplingRemovesContentAboveTheNewNyquist()
    {
        // 6 kHz cannot be represented at 8 kHz; naive decimation would alias it to 2 kHz at full amplitude.
        var y = new Resampler(44100, 8000).Process(Sine(6000, 44100, 1.0));
        double rms = Rms(y.AsSpan(200, 7600));
        Assert.True(rms < 0.5 / Math.Sqrt(2) * 0.01, $"aliased RMS {rms} should be < 1% of the input's");
    }

    [Fact]
    public void UpsamplingInterpolatesSmoothly()
    {
        var y = new Resampler(8000, 16000).Process(Sine(440, 8000, 0.5));
        var expected = Sine(440, 16000, 0.5);
        double maxErr = 0;
        for (int i = 400; i < y.Length - 400; i++) maxErr = Math.Max(maxErr, Math.Abs(y[i] - expected[i]));
        Assert.True(maxErr < 2e-3, $"max error {maxErr}");
    }
}
