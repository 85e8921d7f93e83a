using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MLNetFusion.Transforms.Audio;

/// <summary>
/// The log-mel of one clip in double precision on the CPU, for FFT sizes that are powers of two: reflect padding, the
/// window, a real FFT of the window size (a complex FFT of half the size, then the split), the power, the mel filter
/// bank as a sparse product (each band's non-zero bins only), the log and the per-clip normalisation. It computes what
/// <see cref="MelSpectrogramTransformer"/>'s tensor path computes, without single-precision rounding in the FFT.
/// </summary>
/// <remarks>
/// Where the CPU has 256-bit vectors, four frames go through the FFT, the split, the power and the filter bank together,
/// one frame per lane: every lane does the scalar path's operations in the scalar path's order (no fused multiply-add),
/// so the values are the same bit for bit (the log and any power other than 2 stay scalar per lane). The one shortcut,
/// the FFT's first stage without its products by 1, changes at most the sign of a zero, which the power squares away.
/// A clip's last frames run as one more group of four that overlaps the one before it.
/// </remarks>
internal sealed class MelKernel
{
    private readonly int _n, _half, _freqs, _bands, _frames, _hop, _length;
    private readonly bool _center, _log, _vectors;
    private readonly double _power, _offset;
    private readonly SpectrogramNormalization _normalization;
    private readonly double[] _window;
    private readonly int[] _reverse;
    private readonly double[] _twRe, _twIm;        // e^{-2πik/half}, k < half/2
    private readonly double[] _splitRe, _splitIm;  // e^{-2πik/n}, k <= half
    private readonly int[] _bandStart;
    private readonly double[][] _bandWeights;

    private readonly Func<MelKernel> _scalar;

    /// <summary>Whether this kernel computes four frames at a time.</summary>
    internal bool Vectorized => _vectors;

    /// <summary>The same kernel on the scalar path (tests compare the two bit for bit).</summary>
    internal MelKernel Scalar() => _scalar();

    /// <summary>Whether the kernel handles an FFT of <paramref name="n"/> points.</summary>
    public static bool Supports(int n) => n >= 2 && (n & (n - 1)) == 0;

    /// <summary>A kernel for clips of <paramref name="inputLength"/> samples, <paramref name="frames"/> frames every
    /// <paramref name="hop"/> samples, the window centred in the FFT size and the <c>[freqs, bands]</c> filter bank;
    /// <paramref name="vectors"/>: four frames at a time where the CPU has 256-bit vectors (same values), <c>false</c> for the scalar path (tests).</summary>
    public MelKernel(MelSpectrogramOptions o, int inputLength, int frames, int hop, float[] paddedWindow, float[] filterBank, bool vectors = true)
    {
        _vectors = vectors && Vector256.IsHardwareAccelerated;
        _scalar = () => new MelKernel(o, inputLength, frames, hop, paddedWindow, filterBank, vectors: false);
        _n = o.FftSize; _half = _n / 2; _freqs = _half + 1; _bands = o.Bands; _frames = frames; _hop = hop; _length = inputLength;
        _center = o.Center; _log = o.ApplyLog; _power = o.Power; _offset = o.LogOffset; _normalization = o.Normalization;
        _window = paddedWindow.Select(v => (double)v).ToArray();
        int bits = 0;
        while ((1 << bits) < _half) bits++;
        _reverse = new int[_half];
        for (int i = 0; i < _half; i++)
        {
            int r = 0;
            for (int b = 0; b < bits; b++) if ((i & (1 << b)) != 0) r |= 1 << (bits - 1 - b);
            _reverse[i] = r;
        }
        _twRe = new double[Math.Max(1, _half / 2)]; _twIm = new double[_twRe.Length];
        for (int k = 0; k < _half / 2; k++) { double a = -2 * Math.PI * k / _half; _twRe[k] = Math.Cos(a); _twIm[k] = Math.Sin(a); }
        _splitRe = new double[_half + 1]; _splitIm = new double[_half + 1];
        for (int k = 0; k <= _half; k++) { double a = -2 * Math.PI * k / _n; _splitRe[k] = Math.Cos(a); _splitIm[k] = Math.Sin(a); }
        // The filter bank as the tensor path holds it (single precision, [freqs, bands]), kept sparse per band.
        _bandStart = new int[_bands];
        _bandWeights = new double[_bands][];
        for (int b = 0; b < _bands; b++)
        {
            int lo = 0, hi = -1;
            for (int f = 0; f < _freqs; f++) if (filterBank[f * _bands + b] != 0) { if (hi < 0) lo = f; hi = f; }
            _bandStart[b] = lo;
            _bandWeights[b] = hi < 0 ? Array.Empty<double>() : Enumerable.Range(lo, hi - lo + 1).Select(f => (double)filterBank[f * _bands + b]).ToArray();
        }
    }

    /// <summary>Scratch buffers of one thread.</summary>
    public sealed class Scratch
    {
        public Scratch(MelKernel k)
        {
            Padded = new double[k._length + k._n];
            Re = new double[k._half]; Im = new double[k._half];
            Power = new double[k._freqs];
            Mel = new double[k._bands * k._frames];
            Re4 = new double[k._half * Lanes]; Im4 = new double[k._half * Lanes];
            Power4 = new double[k._freqs * Lanes];
        }
        public readonly double[] Padded, Re, Im, Power, Mel;
        /// <summary>Four frames interleaved: value <c>k</c> of lane <c>l</c> at <c>k * 4 + l</c>.</summary>
        public readonly double[] Re4, Im4, Power4;
    }

    /// <summary>Writes the clip's <c>bands × frames</c> values (row-major <c>[band, frame]</c>). An all-NaN clip gives all NaN.</summary>
    public void Compute(ReadOnlySpan<float> clip, Span<float> output, Scratch s)
    {
        if (float.IsNaN(clip[0])) { output.Fill(float.NaN); return; }   // the mapper lets through only finite or entirely NaN clips
        int pad = _center ? _half : 0, total = _length + 2 * pad;
        var p = s.Padded;
        for (int i = 0; i < _length; i++) p[pad + i] = clip[i];
        for (int i = 1; i <= pad; i++) { p[pad - i] = clip[i]; p[pad + _length - 1 + i] = clip[_length - 1 - i]; }   // reflect, edge not repeated
        _ = total;
        int first = 0;
        if (_vectors && _frames >= Lanes)
        {
            for (; first + Lanes <= _frames; first += Lanes) FourFrames(first, s);
            // The last frames as one more group that overlaps the previous one: a lane computes what the scalar path
            // does, so the frames computed twice get the same values, at a quarter of the scalar path's cost.
            if (first < _frames) FourFrames(_frames - Lanes, s);
            first = _frames;
        }
        for (int t = first; t < _frames; t++)
        {
            int start = t * _hop;
            // Even samples into the real part, odd into the imaginary part, in bit-reversed order.
            for (int m = 0; m < _half; m++)
            {
                int r = _reverse[m];
                s.Re[r] = p[start + 2 * m] * _window[2 * m];
                s.Im[r] = p[start + 2 * m + 1] * _window[2 * m + 1];
            }
            Fft(s.Re, s.Im);
            for (int k = 0; k <= _half; k++)
            {
                int a = k % _half, b = (_half - k) % _half;
                double zr = s.Re[a], zi = s.Im[a], cr = s.Re[b], ci = -s.Im[b];           // Z[k], conj(Z[half - k])
                double er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci);                          // even part
                double dr = zr - cr, di = zi - ci;                                          // odd part = -i/2 · (Z - conj)
                double or = 0.5 * di, oi = -0.5 * dr;
                double xr = er + _splitRe[k] * or - _splitIm[k] * oi, xi = ei + _splitRe[k] * oi + _splitIm[k] * or;
                double pw = xr * xr + xi * xi;
                s.Power[k] = _power == 2.0 ? pw : Math.Pow(pw, _power / 2.0);
            }
            for (int band = 0; band < _bands; band++)
            {
                var w = _bandWeights[band];
                int f0 = _bandStart[band];
                double acc = 0;
                for (int j = 0; j < w.Length; j++) acc += w[j] * s.Power[f0 + j];
                s.Mel[band * _frames + t] = _log ? Math.Log(acc + _offset) : acc;
            }
        }
        for (int band = 0; band < _bands; band++)
        {
            var row = s.Mel.AsSpan(band * _frames, _frames);
            if (_normalization != SpectrogramNormalization.None)
            {
                double mean = 0;
                foreach (var v in row) mean += v;
                mean /= _frames;
                for (int t = 0; t < _frames; t++) row[t] -= mean;
                if (_normalization == SpectrogramNormalization.PerClipMeanVariance)
                {
                    double sq = 0;
                    foreach (var v in row) sq += v * v;
                    double std = Math.Sqrt(sq / _frames);
                    // A band with no spread (silence) becomes exactly 0, never NaN.
                    for (int t = 0; t < _frames; t++) row[t] = std > 1e-3 ? row[t] / std : 0;
                }
            }
            var dst = output.Slice(band * _frames, _frames);
            for (int t = 0; t < _frames; t++) dst[t] = (float)row[t];
        }
    }

    private const int Lanes = 4;

    /// <summary>Frames <paramref name="t0"/> to <paramref name="t0"/> + 3 into <see cref="Scratch.Mel"/>, one frame per vector lane.</summary>
    private void FourFrames(int t0, Scratch s)
    {
        var p = s.Padded;
        var re4 = s.Re4; var im4 = s.Im4;
        var re = MemoryMarshal.Cast<double, Vector256<double>>(re4.AsSpan());
        var im = MemoryMarshal.Cast<double, Vector256<double>>(im4.AsSpan());
        int s0 = t0 * _hop, s1 = s0 + _hop, s2 = s1 + _hop, s3 = s2 + _hop;
        for (int m = 0; m < _half; m++)
        {
            int r = _reverse[m], e = 2 * m, o = e + 1;
            // Lane l is frame t0 + l: the same products as the scalar path, one vector multiply for four frames.
            re[r] = Vector256.Create(p[s0 + e], p[s1 + e], p[s2 + e], p[s3 + e]) * Vector256.Create(_window[e]);
            im[r] = Vector256.Create(p[s0 + o], p[s1 + o], p[s2 + o], p[s3 + o]) * Vector256.Create(_window[o]);
        }
        // The first stage's twiddle is 1 (sin 0 = -0): the scalar path's products by it leave every value as it is, up to
        // the sign of a zero, which the power squares away; so this stage only adds and subtracts.
        if (_half >= 2)
            for (int u = 0; u < _half; u += 2)
            {
                Vector256<double> vr = re[u + 1], vi = im[u + 1];
                re[u + 1] = re[u] - vr; im[u + 1] = im[u] - vi;
                re[u] += vr; im[u] += vi;
            }
        for (int len = 4; len <= _half; len <<= 1)
        {
            int halfLen = len >> 1, step = _half / len;
            for (int j = 0; j < halfLen; j++)
            {
                // One twiddle for every butterfly of this stage that uses it.
                var wr = Vector256.Create(_twRe[j * step]); var wi = Vector256.Create(_twIm[j * step]);
                for (int u = j; u < _half; u += len)
                {
                    int v = u + halfLen;
                    var vr = re[v] * wr - im[v] * wi; var vi = re[v] * wi + im[v] * wr;
                    re[v] = re[u] - vr; im[v] = im[u] - vi;
                    re[u] += vr; im[u] += vi;
                }
            }
        }
        var power = MemoryMarshal.Cast<double, Vector256<double>>(s.Power4.AsSpan());
        var halfV = Vector256.Create(0.5);
        for (int k = 0; k <= _half; k++)
        {
            int a = k % _half, b = (_half - k) % _half;
            Vector256<double> zr = re[a], zi = im[a], cr = re[b], ci = -im[b];
            var er = halfV * (zr + cr); var ei = halfV * (zi + ci);
            var dr = zr - cr; var di = zi - ci;
            var or = halfV * di; var oi = -halfV * dr;
            var sr = Vector256.Create(_splitRe[k]); var si = Vector256.Create(_splitIm[k]);
            var xr = er + sr * or - si * oi; var xi = ei + sr * oi + si * or;
            var pw = xr * xr + xi * xi;
            if (_power == 2.0) power[k] = pw;
            else power[k] = Vector256.Create(Math.Pow(pw[0], _power / 2.0), Math.Pow(pw[1], _power / 2.0), Math.Pow(pw[2], _power / 2.0), Math.Pow(pw[3], _power / 2.0));
        }
        // Two bands at a time: two independent sums in flight, each added in the scalar path's order.
        int band = 0;
        for (; band + 1 < _bands; band += 2)
        {
            double[] wa = _bandWeights[band], wb = _bandWeights[band + 1];
            int fa = _bandStart[band], fb = _bandStart[band + 1], common = Math.Min(wa.Length, wb.Length), j = 0;
            Vector256<double> a = Vector256<double>.Zero, b = Vector256<double>.Zero;
            for (; j < common; j++)
            {
                a += Vector256.Create(wa[j]) * power[fa + j];
                b += Vector256.Create(wb[j]) * power[fb + j];
            }
            for (int k = j; k < wa.Length; k++) a += Vector256.Create(wa[k]) * power[fa + k];
            for (int k = j; k < wb.Length; k++) b += Vector256.Create(wb[k]) * power[fb + k];
            StoreBand(s.Mel, band, t0, a);
            StoreBand(s.Mel, band + 1, t0, b);
        }
        if (band < _bands)
        {
            var w = _bandWeights[band];
            int f0 = _bandStart[band];
            var acc = Vector256<double>.Zero;
            for (int j = 0; j < w.Length; j++) acc += Vector256.Create(w[j]) * power[f0 + j];
            StoreBand(s.Mel, band, t0, acc);
        }
    }

    private void StoreBand(double[] mel, int band, int t0, Vector256<double> sum)
    {
        int at = band * _frames + t0;
        for (int l = 0; l < Lanes; l++) mel[at + l] = _log ? Math.Log(sum[l] + _offset) : sum[l];
    }

    /// <summary>In-place iterative radix-2 FFT of bit-reversed input (e^{-2πi…} convention).</summary>
    private void Fft(double[] re, double[] im)
    {
        for (int len = 2; len <= _half; len <<= 1)
        {
            int halfLen = len >> 1, step = _half / len;
            for (int i = 0; i < _half; i += len)
                for (int j = 0; j < halfLen; j++)
                {
                    double wr = _twRe[j * step], wi = _twIm[j * step];
                    int u = i + j, v = u + halfLen;
                    double vr = re[v] * wr - im[v] * wi, vi = re[v] * wi + im[v] * wr;
                    re[v] = re[u] - vr; im[v] = im[u] - vi;
                    re[u] += vr; im[u] += vi;
                }
        }
    }
}
