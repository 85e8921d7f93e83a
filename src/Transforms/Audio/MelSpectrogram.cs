using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Onnx;
using MLNetFusion.Persistence;
using MLNetFusion.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Transforms.Audio;

/// <summary>Analysis window of <see cref="MelSpectrogramEstimator"/>.</summary>
public enum SpectrogramWindow
{
    /// <summary>Periodic Hann window (torchaudio's default).</summary>
    Hann,
    /// <summary>Periodic Hamming window.</summary>
    Hamming,
    /// <summary>No window.</summary>
    Rectangular,
}

/// <summary>Per-clip normalisation of a spectrogram (<see cref="MelSpectrogramOptions.Normalization"/>).</summary>
public enum SpectrogramNormalization
{
    /// <summary>None: the log-mel as computed.</summary>
    None,
    /// <summary>Subtract each band's mean over the clip (cepstral mean normalisation).</summary>
    PerClipMean,
    /// <summary>Subtract each band's mean and divide by its standard deviation over the clip (CMVN).</summary>
    PerClipMeanVariance,
}

/// <summary>Options for <see cref="MelSpectrogramEstimator"/>. Defaults follow <c>torchaudio.transforms.MelSpectrogram</c> except <see cref="Bands"/> (64) and <see cref="ApplyLog"/>.</summary>
public sealed class MelSpectrogramOptions
{
    /// <summary>Defaults, reused by the catalog.</summary>
    public static class Defaults
    {
        /// <summary>Default FFT size.</summary>
        public const int FftSize = 400;
        /// <summary>Default mel bands.</summary>
        public const int Bands = 64;
        /// <summary>Default log offset.</summary>
        public const double LogOffset = 1e-6;
    }

    /// <summary>Output column: <c>Vector&lt;Single, Bands, Frames&gt;</c>.</summary>
    public string OutputColumnName { get; set; } = "LogMel";

    /// <summary>Input column of samples (<c>Vector&lt;Single&gt;</c> of fixed size, e.g. from <c>LoadAudio</c>).</summary>
    public string InputColumnName { get; set; } = "Audio";

    /// <summary>Sample rate. <c>null</c> reads the input column's <c>SampleRate</c> annotation (set by <c>LoadAudio</c>).</summary>
    public int? SampleRate { get; set; }

    /// <summary>FFT size (n_fft). Default 400.</summary>
    public int FftSize { get; set; } = Defaults.FftSize;

    /// <summary>Window length; <c>null</c> = <see cref="FftSize"/>.</summary>
    public int? WindowLength { get; set; }

    /// <summary>Hop between frames; <c>null</c> = window length / 2 (torchaudio's default).</summary>
    public int? HopLength { get; set; }

    /// <summary>Window function. Default Hann.</summary>
    public SpectrogramWindow Window { get; set; } = SpectrogramWindow.Hann;

    /// <summary>Number of mel bands. Default 64.</summary>
    public int Bands { get; set; } = Defaults.Bands;

    /// <summary>Lowest band edge in Hz. Default 0.</summary>
    public double MinFrequency { get; set; }

    /// <summary>Highest band edge in Hz; <c>null</c> = Nyquist.</summary>
    public double? MaxFrequency { get; set; }

    /// <summary>Exponent of the magnitude (2 = power). Default 2.</summary>
    public double Power { get; set; } = 2.0;

    /// <summary>Pad the signal by half a window on both sides (reflect) so frames are centred. Default true.</summary>
    public bool Center { get; set; } = true;

    /// <summary>Output <c>log(mel + LogOffset)</c> instead of the mel power. Default true.</summary>
    public bool ApplyLog { get; set; } = true;

    /// <summary>Offset added before the logarithm. Default 1e-6.</summary>
    public double LogOffset { get; set; } = Defaults.LogOffset;

    /// <summary>Rows processed together. Default 256.</summary>
    public int BatchSize { get; set; } = Mapping.BatchMappingTransformer.DefaultBatchSize;

    /// <summary>
    /// Per-clip normalisation of each band over time (cepstral mean and variance normalisation, CMVN, on the log-mel):
    /// the standard remedy for speaker and channel shift, since a microphone or a voice mostly adds a per-band offset to
    /// the log spectrum. Default <see cref="SpectrogramNormalization.None"/>.
    /// </summary>
    public SpectrogramNormalization Normalization { get; set; } = SpectrogramNormalization.None;

    internal MelSpectrogramOptions Clone() => (MelSpectrogramOptions)MemberwiseClone();

    /// <summary>Checks every member for audio at <paramref name="sampleRate"/> Hz and throws naming the bad one; changes nothing.</summary>
    /// <param name="sampleRate">The audio's sample rate (the Nyquist frequency bounds <see cref="MaxFrequency"/>).</param>
    public void Validate(int sampleRate)
    {
        var o = this;
        Check.InRange(o.FftSize, 2, 1 << 16);
        int win = o.WindowLength ?? o.FftSize;
        if (win <= 0 || win > o.FftSize) throw new ArgumentOutOfRangeException(nameof(o.WindowLength), win, "WindowLength must be in [1, FftSize].");
        if ((o.HopLength ?? win / 2) <= 0) throw new ArgumentOutOfRangeException(nameof(o.HopLength), o.HopLength, "HopLength must be positive.");
        Check.Positive(o.Bands, 1024);
        double fmax = o.MaxFrequency ?? sampleRate / 2.0;
        // Written so that NaN fails every comparison: a NaN or infinite frequency is an error, not a NaN filter bank.
        if (!(o.MinFrequency >= 0 && fmax > o.MinFrequency && fmax <= sampleRate / 2.0 + 1e-9))
            throw new ArgumentOutOfRangeException(double.IsNaN(fmax) || fmax > sampleRate / 2.0 ? nameof(o.MaxFrequency) : nameof(o.MinFrequency), fmax,
                $"Need 0 <= MinFrequency ({o.MinFrequency}) < MaxFrequency ({fmax}) <= Nyquist ({sampleRate / 2.0} Hz), all finite.");
        Check.Positive(o.Power);
        if (o.ApplyLog) Check.Positive(o.LogOffset);
        Check.Positive(o.BatchSize, 65_536);
    }
}

/// <summary>
/// Computes (log-)mel spectrograms of fixed-length audio vectors: in double precision on the CPU, clips in parallel, when
/// the FFT size is a power of two; with batched tensors (one matrix product per batch of rows) otherwise. Matches
/// <c>torchaudio.transforms.MelSpectrogram</c> (HTK mel scale, no filter normalisation). Reach it with
/// <c>mlContext.Transforms.MelSpectrogram(...)</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description><c>Vector&lt;Single&gt;</c> of fixed size (samples), e.g. from <c>LoadAudio</c>, which also supplies the sample rate.</description></item>
/// <item><term>Output</term><description><c>Vector&lt;Single, Bands, Frames&gt;</c>, row-major: value <c>[band, frame]</c> is at <c>band × Frames + frame</c>. Frames = <c>1 + samples / hop</c> when centred. A CNN reshapes it to <c>1 × Bands × Frames</c>; MLNetFusion's encoders read the dimensions from the type.</description></item>
/// <item><term>Missing audio</term><description>An all-NaN input row (missing modality) gives an all-NaN output row.</description></item>
/// <item><term>Package</term><description>MLNetFusion.Transforms; the app references TorchSharp-cpu.</description></item>
/// </list>
/// </remarks>
public sealed class MelSpectrogramEstimator : StatelessEstimator<MelSpectrogramTransformer>
{
    private readonly MelSpectrogramOptions _options;

    /// <summary>Creates the estimator.</summary>
    /// <param name="env">The ML.NET environment (an <see cref="MLContext"/>).</param>
    /// <param name="options">The options (copied); validated here.</param>
    public MelSpectrogramEstimator(IHostEnvironment env, MelSpectrogramOptions options) : base(env, "MLNetFusion.MelSpectrogram")
    {
        _options = options?.Clone() ?? throw new ArgumentNullException(nameof(options));
        _options.Validate(_options.SampleRate ?? 1_000_000);
    }

    /// <inheritdoc />
    protected override MelSpectrogramTransformer Create(DataViewSchema inputSchema)
    {
        var col = SchemaErrors.FindColumn(inputSchema, _options.InputColumnName);
        int size = SchemaErrors.RequireFloatVector(inputSchema, _options.InputColumnName,
            "MelSpectrogram needs fixed-length samples: produce them with LoadAudio (which fixes the duration).");
        int rate = _options.SampleRate ?? ReadRate(col);
        return new MelSpectrogramTransformer(_options, size, rate);
    }

    private int ReadRate(DataViewSchema.Column col)
    {
        if (col.Annotations.Schema.GetColumnOrNull(AudioAnnotations.SampleRate) is { } a && a.Type == NumberDataViewType.Int32)
        {
            int rate = 0;
            col.Annotations.GetValue(AudioAnnotations.SampleRate, ref rate);
            if (rate > 0) return rate;
        }
        throw new ArgumentException(
            $"The sample rate of column '{col.Name}' is unknown." + Environment.NewLine +
            "Hint: produce the column with mlContext.Transforms.LoadAudio (it records the rate), or set MelSpectrogramOptions.SampleRate.");
    }

    /// <inheritdoc />
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaShapes.RequireFloatVector(inputSchema, _options.InputColumnName);
        return SchemaShapes.Append(inputSchema, new[] { SchemaShapes.Column(_options.OutputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
    }
}

/// <summary>The fitted <see cref="MelSpectrogramEstimator"/>: immutable; holds the window and filter bank as tensors.</summary>
public sealed class MelSpectrogramTransformer : BatchMappingTransformer, IDisposable, IFusionSaveable, IOnnxExportable
{
    internal const string Kind = "MLNetFusion.MelSpectrogram";
    private readonly Tensor _window;
    private readonly Tensor _filterBank;     // [freqs, bands]
    private readonly Tensor _paddedWindow;   // the window centred in n_fft, as torch.stft pads it
    private readonly MelKernel? _kernel;     // the double-precision CPU path, for FFT sizes that are powers of two
    private bool _disposed;

    /// <param name="options">The options (the sample rate set).</param>
    /// <param name="inputLength">Samples per row.</param>
    /// <param name="sampleRate">The rate.</param>
    /// <param name="doublePrecision">Compute power-of-two FFT sizes with the double-precision kernel (every new transformer);
    /// <c>false</c> keeps the single-precision tensor path of files written before it (MelSpectrogram component version 1),
    /// so they score bit for bit as when they were saved.</param>
    internal MelSpectrogramTransformer(MelSpectrogramOptions options, int inputLength, int sampleRate, bool doublePrecision = true) : base(options.BatchSize)
    {
        options.Validate(sampleRate);
        TorchRuntime.EnsureInitialized();
        Options = options.Clone();
        Options.SampleRate = sampleRate;
        InputLength = inputLength;
        int win = WindowLength;
        if (Options.Center ? inputLength <= FftSize / 2 : inputLength < FftSize)
            throw new ArgumentException($"Column '{Options.InputColumnName}' has {inputLength} samples, too few for n_fft = {FftSize}." + Environment.NewLine +
                "Hint: use a longer duration in LoadAudio or a smaller FftSize.");
        Frames = Options.Center ? 1 + inputLength / Hop : 1 + (inputLength - FftSize) / Hop;
        var fb = MelFilterBank(FftSize / 2 + 1, Options.MinFrequency, Options.MaxFrequency ?? sampleRate / 2.0, Bands, sampleRate);
        using (NewDisposeScope())
        {
            _window = (Options.Window switch
            {
                SpectrogramWindow.Hann => hann_window(win, periodic: true),
                SpectrogramWindow.Hamming => hamming_window(win, periodic: true),
                _ => ones(win),
            }).MoveToOuterDisposeScope();
            _filterBank = tensor(fb.Select(v => (float)v).ToArray(), new long[] { FftSize / 2 + 1, Bands }).MoveToOuterDisposeScope();
            var pw = new float[FftSize];
            var wv = _window.data<float>().ToArray();
            for (int i = 0; i < wv.Length; i++) pw[(FftSize - wv.Length) / 2 + i] = wv[i];
            _paddedWindow = tensor(pw).MoveToOuterDisposeScope();
            if (doublePrecision && MelKernel.Supports(FftSize))
                _kernel = new MelKernel(Options, inputLength, Frames, Hop, pw, _filterBank.data<float>().ToArray());
        }
    }

    /// <summary>The options, with the resolved sample rate.</summary>
    public MelSpectrogramOptions Options { get; }

    /// <summary>Input samples per row.</summary>
    public int InputLength { get; }

    /// <summary>The saved configuration. <paramref name="DoublePrecision"/> is absent from version-1 files, which computed in single precision.</summary>
    private sealed record Config(MelSpectrogramOptions Options, int InputLength, bool? DoublePrecision = null);
    /// <summary>The component version this library writes: 2 records whether the double-precision kernel computes the log-mel.</summary>
    internal const int ComponentVersion = 2;
    string IFusionSaveable.ComponentKind => Kind;
    void IFusionSaveable.Save(ComponentWriter writer) => writer.WriteConfig(new Config(Options, InputLength, DoublePrecision));
    internal static MelSpectrogramTransformer Load(ComponentReader reader)
    {
        var c = reader.ReadConfig<Config>();
        if (c.Options?.SampleRate is not int rate || c.InputLength <= 0) throw reader.Invalid("its sample rate or input length is missing");
        return new MelSpectrogramTransformer(c.Options, c.InputLength, rate, c.DoublePrecision ?? false);
    }

    /// <summary>The double-precision kernel, or <c>null</c> (tests).</summary>
    internal MelKernel? Kernel => _kernel;

    /// <summary>Whether the log-mel is computed in double precision (<see cref="MelKernel"/>): every new transformer with a
    /// power-of-two FFT size; <c>false</c> for other sizes and for transformers loaded from files written before the kernel.</summary>
    public bool DoublePrecision => _kernel != null;

    /// <summary>Mel bands (first dimension of the output).</summary>
    public int Bands => Options.Bands;

    /// <summary>Frames (second dimension of the output).</summary>
    public int Frames { get; }

    /// <summary>FFT size.</summary>
    public int FftSize => Options.FftSize;

    /// <summary>Window length.</summary>
    public int WindowLength => Options.WindowLength ?? Options.FftSize;

    /// <summary>Hop length.</summary>
    public int Hop => Options.HopLength ?? WindowLength / 2;

    /// <summary>
    /// The HTK mel filter bank as torchaudio's <c>melscale_fbanks</c> builds it (<c>norm=None</c>): <c>[freqs, bands]</c>, row-major.
    /// </summary>
    public static double[] MelFilterBank(int freqs, double fMin, double fMax, int bands, int sampleRate)
    {
        static double HzToMel(double f) => 2595.0 * Math.Log10(1.0 + f / 700.0);
        static double MelToHz(double m) => 700.0 * (Math.Pow(10.0, m / 2595.0) - 1.0);
        var allFreqs = new double[freqs];
        for (int i = 0; i < freqs; i++) allFreqs[i] = freqs == 1 ? 0 : (double)(sampleRate / 2) * i / (freqs - 1);
        double mMin = HzToMel(fMin), mMax = HzToMel(fMax);
        var fPts = new double[bands + 2];
        for (int i = 0; i < bands + 2; i++) fPts[i] = MelToHz(mMin + (mMax - mMin) * i / (bands + 1));
        var fb = new double[freqs * bands];
        for (int f = 0; f < freqs; f++)
            for (int b = 0; b < bands; b++)
            {
                double down = (allFreqs[f] - fPts[b]) / (fPts[b + 1] - fPts[b]);
                double up = (fPts[b + 2] - allFreqs[f]) / (fPts[b + 2] - fPts[b + 1]);
                fb[f * bands + b] = Math.Max(0, Math.Min(down, up));
            }
        return fb;
    }

    /// <summary>Above this absolute sample value a batch is computed in double precision (its power would overflow a float).</summary>
    internal const float MaxSinglePrecisionAmplitude = 1e6f;

    /// <summary>Computes spectrograms for <paramref name="count"/> rows of <see cref="InputLength"/> samples; writes <c>count × Bands × Frames</c> values.</summary>
    /// <remarks>
    /// For an FFT size that is a power of two (256 in MelSpectrogram's common settings) the clips are computed in
    /// double precision on the CPU, in parallel (<see cref="MelKernel"/>): a real FFT of the window size and a sparse
    /// filter bank, so the log of the quietest bands keeps its digits. Other sizes use tensors:
    /// the STFT is computed as <c>torch.stft</c> defines it — reflect padding when centred, frames of n_fft every hop,
    /// the window centred in n_fft — but as one batched <c>torch.fft.rfft</c> over every frame of the batch, which
    /// measured faster here than <c>torch.stft</c> for short FFTs.
    /// </remarks>
    public void Compute(float[] samples, int count, float[] output)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_kernel != null)
        {
            int size = Bands * Frames;
            Parallel.For(0, count, () => new MelKernel.Scratch(_kernel), (i, _, scratch) =>
            {
                _kernel.Compute(samples.AsSpan(i * InputLength, InputLength), output.AsSpan(i * size, size), scratch);
                return scratch;
            }, _ => { });
            return;
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = tensor(samples.Length == count * InputLength ? samples : samples.AsSpan(0, count * InputLength).ToArray(), new long[] { count, InputLength });
        // A clip far louder than audio ever is (|x| above 1e6, e.g. unscaled integers or corrupt data) would overflow the
        // power in single precision and come out all NaN, silently a missing modality: such batches run in double.
        bool wide = x.abs().nan_to_num(0).max().item<float>() > MaxSinglePrecisionAmplitude;
        if (wide) x = x.to_type(ScalarType.Float64);
        var window = wide ? _paddedWindow.to_type(ScalarType.Float64) : _paddedWindow;
        var filterBank = wide ? _filterBank.to_type(ScalarType.Float64) : _filterBank;
        if (Options.Center)
            x = nn.functional.pad(x.unsqueeze(1), new long[] { FftSize / 2, FftSize / 2 }, PaddingModes.Reflect).squeeze(1);
        var frames = x.unfold(1, FftSize, Hop);                                                      // [B, T, n_fft]
        var spec = torch.fft.rfft(frames * window, dim: -1);                                         // [B, T, F] complex
        var power = torch.view_as_real(spec).square().sum(-1);                                       // |X|^2
        if (Options.Power != 2.0) power = power.pow(Options.Power / 2.0);
        var mel = power.matmul(filterBank).transpose(1, 2);                                          // [B, M, T]
        if (Options.ApplyLog) mel = (mel + Options.LogOffset).log();
        mel = Normalize(mel, Options.Normalization);
        if (wide) mel = mel.to_type(ScalarType.Float32);
        var values = mel.contiguous().data<float>();
        values.CopyTo(output, 0);
    }

    /// <summary>
    /// Per-clip normalisation of <c>[B, bands, frames]</c>: each band minus its mean over the clip's frames, and divided
    /// by its standard deviation for <see cref="SpectrogramNormalization.PerClipMeanVariance"/>. A band that is constant
    /// (a silent clip) has no spread: it becomes 0, never NaN. Missing rows (all NaN) stay all NaN.
    /// </summary>
    internal static Tensor Normalize(Tensor mel, SpectrogramNormalization normalization)
    {
        if (normalization == SpectrogramNormalization.None) return mel;
        var centred = mel - mel.mean(new long[] { 2 }, keepdim: true);
        if (normalization == SpectrogramNormalization.PerClipMean) return centred;
        var std = centred.square().mean(new long[] { 2 }, keepdim: true).sqrt();
        // A band with no spread (below 1e-3 in log units: silence, or float error around a constant) becomes exactly 0.
        return centred / std.clamp_min(1e-3) * std.gt(1e-3).to_type(mel.dtype);
    }

    /// <inheritdoc />
    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        int size = SchemaErrors.RequireFloatVector(inputSchema, Options.InputColumnName);
        if (size != InputLength)
            throw SchemaErrors.Mismatch(Options.InputColumnName, $"Vector<Single, {InputLength}>", inputSchema[Options.InputColumnName].Type,
                "use the same LoadAudio sample rate and duration as when the transform was fitted.");
        return new[] { new OutputColumn(Options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, Bands, Frames)) };
    }

    /// <inheritdoc />
    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(this, capacity);

    /// <summary>
    /// Writes the log-mel to an ONNX graph: reflect padding, frames gathered every hop, the windowed real DFT as one
    /// constant matrix product, the power, the filter bank as a constant matrix product, the log and the per-clip
    /// normalisation, computed in double precision (as <see cref="Compute"/> does for loud clips) and returned as float.
    /// An all-NaN clip gives an all-NaN row, a missing modality, as here.
    /// </summary>
    void IOnnxExportable.ExportOnnx(OnnxExportContext context)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var g = context.Graph;
        using var _ = g.Scope("logmel");
        var x = g.Cast(context.Read(Options.InputColumnName), OnnxElementType.Double);
        long half = FftSize / 2;
        if (Options.Center) x = g.Node("Pad", new[] { x, g.Ints(0, half, 0, half) }, OnnxAttribute.Of("mode", "reflect"));
        var index = new long[Frames * FftSize];
        for (long t = 0; t < Frames; t++)
            for (long n = 0; n < FftSize; n++) index[t * FftSize + n] = t * Hop + n;
        var frames = g.Node("Gather", new[] { x, g.Constant("frame_index", index, new long[] { Frames, FftSize }) }, OnnxAttribute.Of("axis", 1L));   // [B, T, n_fft]
        int freqs = FftSize / 2 + 1;
        var window = _paddedWindow.data<float>().ToArray();
        var basis = new double[FftSize * 2 * freqs];                       // [n_fft, 2F]: window · cos, then -window · sin
        for (int n = 0; n < FftSize; n++)
            for (int f = 0; f < freqs; f++)
            {
                double angle = 2 * Math.PI * ((long)f * n % FftSize) / FftSize;
                basis[n * 2 * freqs + f] = window[n] * Math.Cos(angle);
                basis[n * 2 * freqs + freqs + f] = -window[n] * Math.Sin(angle);
            }
        var spectrum = g.MatMul(frames, g.Constant("dft", basis, new long[] { FftSize, 2 * freqs }));                                      // [B, T, 2F]
        var re = g.Slice(spectrum, 2, 0, freqs);
        var im = g.Slice(spectrum, 2, freqs, 2 * freqs);
        var power = g.Add(g.Mul(re, re), g.Mul(im, im));
        if (Options.Power != 2.0) power = g.Node("Pow", new[] { power, g.Constant("exponent", new[] { Options.Power / 2.0 }, Array.Empty<long>()) });
        var fb = _filterBank.to_type(ScalarType.Float64).data<double>().ToArray();
        var mel = g.Transpose(g.MatMul(power, g.Constant("mel_filters", fb, new long[] { freqs, Bands })), 0, 2, 1);                      // [B, M, T]
        if (Options.ApplyLog) mel = g.Log(g.Add(mel, g.Constant("log_offset", new[] { Options.LogOffset }, Array.Empty<long>())));
        if (Options.Normalization != SpectrogramNormalization.None)
        {
            var centred = g.Sub(mel, g.ReduceMean(mel, true, 2));
            mel = centred;
            if (Options.Normalization == SpectrogramNormalization.PerClipMeanVariance)
            {
                var std = g.Sqrt(g.ReduceMean(g.Mul(centred, centred), true, 2));
                var floor = g.Constant("floor", new[] { 1e-3 }, Array.Empty<long>());
                mel = g.Mul(g.Div(centred, g.Max(std, floor)), g.Cast(g.Node("Greater", new[] { std, floor }), OnnxElementType.Double));
            }
        }
        var output = g.Reshape(g.Cast(mel, OnnxElementType.Float), 0, (long)Bands * Frames);
        context.Write(Options.OutputColumnName, output, OnnxElementType.Float, (long)Bands * Frames);
    }

    /// <summary>Frees the window and filter-bank tensors.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _window.Dispose();
        _filterBank.Dispose();
        _paddedWindow.Dispose();
    }

    private sealed class Mapper : BatchMapper
    {
        private readonly MelSpectrogramTransformer _parent;
        private readonly float[] _samples, _output;
        private readonly long[] _positions;
        private readonly int _outSize;
        private ValueGetter<VBuffer<float>>? _getter;
        private VBuffer<float> _buffer;

        public Mapper(MelSpectrogramTransformer parent, int capacity)
        {
            _parent = parent;
            _samples = new float[capacity * parent.InputLength];
            _outSize = parent.Bands * parent.Frames;
            _output = new float[capacity * _outSize];
            _positions = new long[capacity];
        }

        public override IReadOnlyList<string> InputColumns => new[] { _parent.Options.InputColumnName };

        public override void Bind(DataViewRow input) => _getter = input.GetGetter<VBuffer<float>>(input.Schema[_parent.Options.InputColumnName]);

        public override void ReadRow(int slot, long position)
        {
            _getter!(ref _buffer);
            _positions[slot] = position;
            var dst = _samples.AsSpan(slot * _parent.InputLength, _parent.InputLength);
            if (_buffer.Length != _parent.InputLength)
                throw new InvalidOperationException($"Row {position}: column '{_parent.Options.InputColumnName}' has {_buffer.Length} samples, expected {_parent.InputLength}.");
            _buffer.CopyTo(dst);
            // An all-NaN clip is a missing modality; NaN or infinite samples inside a clip would make every value NaN.
            if (AllFinite(dst)) return;
            int bad = -1, nan = 0;
            for (int i = 0; i < dst.Length; i++)
                if (!float.IsFinite(dst[i])) { if (bad < 0) bad = i; if (float.IsNaN(dst[i])) nan++; }
            if (bad >= 0 && nan != dst.Length)
                throw new InvalidOperationException($"Row {position}: column '{_parent.Options.InputColumnName}' has a non-finite sample ({dst[bad].ToString(System.Globalization.CultureInfo.InvariantCulture)}) at position {bad} of {dst.Length}." + Environment.NewLine +
                    "Hint: clean the clip (an all-NaN clip means the audio is missing), or check the decoder that produced it.");
        }

        /// <summary>Whether every sample is finite (x - x is 0 exactly for finite x, NaN for NaN and infinities), eight at a time.</summary>
        private static bool AllFinite(ReadOnlySpan<float> x)
        {
            int i = 0;
            if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
            {
                var v = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Runtime.Intrinsics.Vector256<float>>(x);
                var zero = System.Runtime.Intrinsics.Vector256<float>.Zero;
                foreach (var block in v)
                    if (!System.Runtime.Intrinsics.Vector256.EqualsAll(block - block, zero)) return false;
                i = v.Length * System.Runtime.Intrinsics.Vector256<float>.Count;
            }
            for (; i < x.Length; i++) if (!float.IsFinite(x[i])) return false;
            return true;
        }

        public override void Compute(int count, bool[] active)
        {
            _parent.Compute(_samples, count, _output);
            // Nothing is turned into NaN or infinity silently: a finite clip whose values a float cannot hold (a mel power
            // of 1e60 without the log) is an error naming its row.
            for (int slot = 0; slot < count; slot++)
            {
                var values = _output.AsSpan(slot * _outSize, _outSize);
                if (AllFinite(values) || float.IsNaN(_samples[slot * _parent.InputLength])) continue;   // an all-NaN clip is a missing modality
                int bad = 0;
                while (float.IsFinite(values[bad])) bad++;
                var o = _parent.Options;
                throw new InvalidOperationException($"Row {_positions[slot]}: column '{o.InputColumnName}' gives a {(o.ApplyLog ? "log-mel" : "mel")} value of {values[bad].ToString(System.Globalization.CultureInfo.InvariantCulture)} " +
                    $"(band {bad / _parent.Frames}, frame {bad % _parent.Frames}) in '{o.OutputColumnName}', which single precision cannot use." + Environment.NewLine +
                    (o.ApplyLog ? "Hint: check the clip's samples (audio lies in [-1, 1]) and keep LogOffset at its default (1e-6)."
                                : "Hint: scale the clip to [-1, 1] (integer PCM divided by 32768), or set ApplyLog = true: the power of samples this large exceeds a float."));
            }
        }

        public override Delegate GetOutputGetter(int output, Func<int> slot)
            => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                var editor = VBufferEditor.Create(ref dst, _outSize);
                _output.AsSpan(slot() * _outSize, _outSize).CopyTo(editor.Values);
                dst = editor.Commit();
            });
    }
}
