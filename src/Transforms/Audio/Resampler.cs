namespace MLNetFusion.Transforms.Audio;

/// <summary>
/// Band-limited sample-rate conversion by windowed-sinc interpolation (Kaiser window, polyphase table for the reduced
/// rational ratio). When downsampling, the filter's cut-off moves to the new Nyquist frequency (times
/// <see cref="Rolloff"/>), so content above it is attenuated instead of aliasing.
/// </summary>
public sealed class Resampler
{
    /// <summary>Zero crossings of the sinc on each side (filter quality).</summary>
    public const int ZeroCrossings = 16;
    /// <summary>Cut-off as a share of the lower Nyquist frequency.</summary>
    public const double Rolloff = 0.945;
    /// <summary>Kaiser window beta.</summary>
    public const double Beta = 8.6;

    private readonly int _up, _down, _half;
    private readonly float[][] _phases;

    /// <summary>Creates a resampler from <paramref name="fromRate"/> to <paramref name="toRate"/>.</summary>
    public Resampler(int fromRate, int toRate)
    {
        if (fromRate <= 0 || toRate <= 0) throw new ArgumentOutOfRangeException(nameof(fromRate), "Sample rates must be positive.");
        FromRate = fromRate; ToRate = toRate;
        int g = Gcd(fromRate, toRate);
        _up = toRate / g; _down = fromRate / g;
        double cutoff = Math.Min(1.0, (double)toRate / fromRate) * Rolloff;   // in units of the source Nyquist
        _half = (int)Math.Ceiling(ZeroCrossings / cutoff);
        _phases = new float[_up][];
        double i0Beta = BesselI0(Beta);
        for (int p = 0; p < _up; p++)
        {
            double frac = (double)p / _up;                                      // output position past the left tap
            var taps = new float[2 * _half];
            for (int k = 0; k < taps.Length; k++)
            {
                double x = (k - _half + 1) - frac;                              // source offset of tap k
                double r = x / _half;
                double window = Math.Abs(r) >= 1 ? 0 : BesselI0(Beta * Math.Sqrt(1 - r * r)) / i0Beta;
                double arg = Math.PI * cutoff * x;
                double sinc = Math.Abs(arg) < 1e-12 ? 1 : Math.Sin(arg) / arg;
                taps[k] = (float)(cutoff * sinc * window);
            }
            _phases[p] = taps;
        }
    }

    /// <summary>Source rate.</summary>
    public int FromRate { get; }

    /// <summary>Target rate.</summary>
    public int ToRate { get; }

    /// <summary>Number of output samples for <paramref name="inputLength"/> input samples.</summary>
    public long OutputLength(long inputLength) => (inputLength * _up + _down - 1) / _down;

    /// <summary>Resamples <paramref name="input"/>; writes at most <paramref name="output"/>.Length samples and returns the count.</summary>
    public int Process(ReadOnlySpan<float> input, Span<float> output)
    {
        if (_up == _down) { int c = Math.Min(input.Length, output.Length); input[..c].CopyTo(output); return c; }
        int n = (int)Math.Min(output.Length, OutputLength(input.Length));
        for (int i = 0; i < n; i++)
        {
            long num = (long)i * _down;
            long left = num / _up;                 // integer source index at or before the output time
            int phase = (int)(num % _up);
            var taps = _phases[phase];
            long start = left - _half + 1;
            double acc = 0;
            int k0 = (int)Math.Max(0, -start), k1 = (int)Math.Min(taps.Length, input.Length - start);
            for (int k = k0; k < k1; k++) acc += taps[k] * input[(int)(start + k)];
            output[i] = (float)acc;
        }
        return n;
    }

    /// <summary>Resamples a whole clip.</summary>
    public float[] Process(ReadOnlySpan<float> input)
    {
        var output = new float[OutputLength(input.Length)];
        Process(input, output);
        return output;
    }

    private static int Gcd(int a, int b) { while (b != 0) (a, b) = (b, a % b); return a; }

    private static double BesselI0(double x)
    {
        double sum = 1, term = 1, q = x * x / 4;
        for (int k = 1; k < 50; k++) { term *= q / (k * k); sum += term; if (term < 1e-12 * sum) break; }
        return sum;
    }
}
