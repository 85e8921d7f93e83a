using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Persistence;

namespace MLNetFusion.Transforms.Audio;

/// <summary>How a clip is fitted to the fixed output length.</summary>
public enum AudioFit
{
    /// <summary>Keep the start: crop the end of long clips, pad short clips with silence at the end.</summary>
    Start,
    /// <summary>Keep the middle: crop long clips equally at both ends, pad short clips equally at both ends.</summary>
    Center,
}

/// <summary>What happens to a row whose audio file cannot be read.</summary>
public enum AudioErrorPolicy
{
    /// <summary>Throw an exception naming the row, the file and the problem.</summary>
    Fail,
    /// <summary>
    /// Output an all-NaN vector (MLNetFusion's "modality missing" convention), log a warning naming the row and file, and
    /// count it in <see cref="AudioLoadingTransformer.SkippedRows"/>. Drop such rows with
    /// <c>mlContext.Data.FilterRowsByMissingValues(data, column)</c>, or let a fusion model predict from the other modalities.
    /// </summary>
    Skip,
}

/// <summary>Options for <see cref="AudioLoadingEstimator"/>.</summary>
public sealed class AudioLoadingOptions
{
    /// <summary>Defaults, reused by the catalog.</summary>
    public static class Defaults
    {
        /// <summary>Default target sample rate.</summary>
        public const int SampleRate = 16000;
        /// <summary>Default clip duration in seconds.</summary>
        public const double DurationSeconds = 1.0;
    }

    /// <summary>Output column: <c>Vector&lt;Single&gt;</c> of <c>SampleRate × DurationSeconds</c> samples.</summary>
    public string OutputColumnName { get; set; } = "Audio";

    /// <summary>Input column of file paths (text). Default: <see cref="OutputColumnName"/>.</summary>
    public string? InputColumnName { get; set; }

    /// <summary>Folder that relative paths are resolved against; <c>null</c> uses them as given.</summary>
    public string? AudioFolder { get; set; }

    /// <summary>Target sample rate; clips at other rates are resampled with a windowed-sinc filter.</summary>
    public int SampleRate { get; set; } = Defaults.SampleRate;

    /// <summary>Output duration in seconds.</summary>
    public double DurationSeconds { get; set; } = Defaults.DurationSeconds;

    /// <summary>Crop/pad policy. Default <see cref="AudioFit.Start"/>.</summary>
    public AudioFit Fit { get; set; } = AudioFit.Start;

    /// <summary>
    /// Allow paths that leave <see cref="AudioFolder"/> (absolute paths elsewhere, or <c>../</c>). Default false: with
    /// an audio folder set, such a path is an error naming the row, so a CSV cannot make the transform read files
    /// outside the folder its author chose. Ignored when <see cref="AudioFolder"/> is <c>null</c>.
    /// </summary>
    public bool AllowPathsOutsideFolder { get; set; }

    /// <summary>Unreadable files: fail (default) or skip with a logged warning.</summary>
    public AudioErrorPolicy OnError { get; set; } = AudioErrorPolicy.Fail;

    /// <summary>Files decoded together (in parallel) inside <c>Transform</c>. Default 64.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>Decoding threads per batch. Default: the core count.</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>Output samples per row.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int OutputLength => (int)Math.Round(SampleRate * DurationSeconds);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputColumnName)) throw new ArgumentException("OutputColumnName is required.", nameof(OutputColumnName));
        Check.Positive(SampleRate, 384_000);
        if (!(DurationSeconds > 0) || OutputLength < 1) throw new ArgumentOutOfRangeException(nameof(DurationSeconds), DurationSeconds, "DurationSeconds must give at least one sample.");
        Check.Positive(BatchSize, 65_536);
    }
}

/// <summary>
/// Loads WAV files named by a text column into fixed-length mono sample vectors at a target sample rate.
/// Reach it with <c>mlContext.Transforms.LoadAudio(...)</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>A text column of paths, relative to <see cref="AudioLoadingOptions.AudioFolder"/>. An empty path means the row has no audio: the output is all NaN (the missing-modality convention).</description></item>
/// <item><term>Output</term><description><c>Vector&lt;Single, SampleRate × DurationSeconds&gt;</c> in [-1, 1], annotated with <c>SampleRate</c>. Multi-channel audio is averaged to mono.</description></item>
/// <item><term>Formats</term><description>RIFF/WAVE PCM 8/16/24/32-bit, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE (see <see cref="WavDecoder"/>).</description></item>
/// <item><term>Resampling</term><description>Windowed-sinc (Kaiser) with anti-aliasing (see <see cref="Resampler"/>).</description></item>
/// <item><term>Package</term><description>MLNetFusion.Transforms.</description></item>
/// </list>
/// </remarks>
public sealed class AudioLoadingEstimator : StatelessEstimator<AudioLoadingTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly AudioLoadingOptions _options;

    /// <summary>Creates the estimator.</summary>
    /// <param name="env">The ML.NET environment (an <see cref="MLContext"/>).</param>
    /// <param name="options">The options; validated here.</param>
    public AudioLoadingEstimator(IHostEnvironment env, AudioLoadingOptions options) : base(env, "MLNetFusion.LoadAudio")
    {
        _env = env;
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
    }

    /// <inheritdoc />
    protected override AudioLoadingTransformer Create(DataViewSchema inputSchema) => new(_env, _options);

    /// <inheritdoc />
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        string input = _options.InputColumnName ?? _options.OutputColumnName;
        var col = SchemaShapes.Find(inputSchema, input);
        if (col.Kind != SchemaShape.Column.VectorKind.Scalar || col.ItemType != TextDataViewType.Instance)
            throw SchemaErrors.Mismatch(input, "String (a file path)", col.ItemType,
                "LoadAudio reads a text column of WAV paths; load it with TextLoader or LoadFromEnumerable as string.");
        var annotations = new SchemaShape(new[] { SchemaShapes.Column(AudioAnnotations.SampleRate, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Int32, false) });
        return SchemaShapes.Append(inputSchema, new[] { SchemaShapes.Column(_options.OutputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, annotations) });
    }
}

/// <summary>Annotation names that MLNetFusion's audio transforms add.</summary>
public static class AudioAnnotations
{
    /// <summary>The sample rate (Int32) of an audio sample vector; <c>MelSpectrogram</c> reads it.</summary>
    public const string SampleRate = "SampleRate";
}

/// <summary>The fitted <see cref="AudioLoadingEstimator"/>. Immutable except for its diagnostic counters.</summary>
public sealed class AudioLoadingTransformer : BatchMappingTransformer, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.LoadAudio";
    private readonly IHost _host;
    private long _skipped, _missing;
    // One polyphase table per source rate, shared by all cursors (Resampler is immutable after construction).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, Resampler> _resamplers = new();

    internal AudioLoadingTransformer(IHostEnvironment env, AudioLoadingOptions options) : base(options.BatchSize)
    {
        _host = env.Register("MLNetFusion.LoadAudio");
        Options = new AudioLoadingOptions
        {
            OutputColumnName = options.OutputColumnName, InputColumnName = options.InputColumnName ?? options.OutputColumnName,
            AudioFolder = options.AudioFolder, SampleRate = options.SampleRate, DurationSeconds = options.DurationSeconds, Fit = options.Fit,
            OnError = options.OnError, BatchSize = options.BatchSize, Threads = options.Threads, AllowPathsOutsideFolder = options.AllowPathsOutsideFolder,
        };
    }

    /// <summary>The options (a copy).</summary>
    public AudioLoadingOptions Options { get; }

    string IFusionSaveable.ComponentKind => Kind;
    void IFusionSaveable.Save(ComponentWriter writer) => writer.WriteConfig(Options);
    internal static AudioLoadingTransformer Load(ComponentReader reader)
    {
        var options = reader.ReadConfig<AudioLoadingOptions>();
        options.Validate();
        return new AudioLoadingTransformer(reader.Env, options);
    }

    /// <summary>Rows skipped so far because their file could not be read (<see cref="AudioErrorPolicy.Skip"/>).</summary>
    public long SkippedRows => Interlocked.Read(ref _skipped);

    /// <summary>Rows with an empty path so far (output all NaN: modality missing).</summary>
    public long MissingRows => Interlocked.Read(ref _missing);

    /// <inheritdoc />
    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        var col = SchemaErrors.FindColumn(inputSchema, Options.InputColumnName!);
        if (col.Type is not TextDataViewType)
            throw SchemaErrors.Mismatch(col.Name, "String (a file path)", col.Type, "LoadAudio reads a text column of WAV paths.");
        var b = new DataViewSchema.Annotations.Builder();
        int rate = Options.SampleRate;
        b.Add(AudioAnnotations.SampleRate, NumberDataViewType.Int32, (ref int v) => v = rate);
        return new[] { new OutputColumn(Options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, Options.OutputLength), b.ToAnnotations()) };
    }

    /// <inheritdoc />
    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(this, capacity);

    /// <summary>Loads one file as the transform would: decode, downmix, resample, crop/pad.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="WavFormatException">The file cannot be decoded.</exception>
    public float[] LoadFile(string path)
    {
        var output = new float[Options.OutputLength];
        if (Outside(path) is { } reason) throw OutsideError(reason, null);
        LoadInto(ResolvePath(path), output);
        return output;
    }

    private string ResolvePath(string path) => Options.AudioFolder is null || Path.IsPathRooted(path) ? path : Path.Combine(Options.AudioFolder, path);

    /// <summary>The reason <paramref name="path"/> may not be read, or <c>null</c>: it must stay inside the audio folder.</summary>
    private string? Outside(string path)
    {
        if (Options.AudioFolder is null || Options.AllowPathsOutsideFolder || path.Length == 0) return null;
        // A relative path with no '..' segment cannot leave the folder: no full-path work per row for the usual paths.
        if (!Path.IsPathRooted(path) && !HasParentSegment(path)) return null;
        var root = Path.GetFullPath(Options.AudioFolder);
        var full = Path.GetFullPath(ResolvePath(path));
        var relative = Path.GetRelativePath(root, full);
        return relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative)
            ? $"'{path}' leaves the audio folder '{root}'" : null;
    }

    /// <summary>Whether a segment of <paramref name="path"/> (split at either slash) is <c>..</c>; no allocation per row.</summary>
    private static bool HasParentSegment(ReadOnlySpan<char> path)
    {
        for (int start = 0; start <= path.Length;)
        {
            int end = path[start..].IndexOfAny('/', '\\');
            var segment = end < 0 ? path[start..] : path.Slice(start, end);
            if (segment is "..") return true;
            if (end < 0) break;
            start += end + 1;
        }
        return false;
    }

    private InvalidOperationException OutsideError(string reason, long? row) => new(
        $"{(row is long r ? $"Row {r}: " : "")}column '{Options.InputColumnName}': {reason}." + Environment.NewLine +
        "Hint: keep audio paths relative to AudioFolder (no '..' or absolute paths), or set AudioLoadingOptions.AllowPathsOutsideFolder = true if you mean it.");

    private void LoadInto(string fullPath, Span<float> output)
    {
        var clip = WavDecoder.Decode(fullPath);
        float[] samples = clip.SampleRate == Options.SampleRate ? clip.Samples
            : _resamplers.GetOrAdd(clip.SampleRate, rate => new Resampler(rate, Options.SampleRate)).Process(clip.Samples);
        Place(samples, output, Options.Fit);
    }

    internal static void Place(ReadOnlySpan<float> samples, Span<float> output, AudioFit fit)
    {
        output.Clear();
        int n = output.Length;
        if (samples.Length >= n)
        {
            int start = fit == AudioFit.Center ? (samples.Length - n) / 2 : 0;
            samples.Slice(start, n).CopyTo(output);
        }
        else
        {
            int offset = fit == AudioFit.Center ? (n - samples.Length) / 2 : 0;
            samples.CopyTo(output[offset..]);
        }
    }

    private sealed class Mapper : BatchMapper
    {
        private readonly AudioLoadingTransformer _parent;
        private readonly string[] _paths;
        private readonly long[] _positions;
        private readonly float[] _values;
        private readonly int _length;
        private ValueGetter<ReadOnlyMemory<char>>? _getter;
        private ReadOnlyMemory<char> _text;

        public Mapper(AudioLoadingTransformer parent, int capacity)
        {
            _parent = parent;
            _length = parent.Options.OutputLength;
            _paths = new string[capacity];
            _positions = new long[capacity];
            _values = new float[capacity * _length];
        }

        public override IReadOnlyList<string> InputColumns => new[] { _parent.Options.InputColumnName! };

        public override void Bind(DataViewRow input) => _getter = input.GetGetter<ReadOnlyMemory<char>>(input.Schema[_parent.Options.InputColumnName!]);

        public override void ReadRow(int slot, long position)
        {
            _getter!(ref _text);
            _paths[slot] = _text.Span.Trim().ToString();
            _positions[slot] = position;
            if (_parent.Outside(_paths[slot]) is { } reason) throw _parent.OutsideError(reason, position);
        }

        public override void Compute(int count, bool[] active)
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _parent.Options.Threads) };
            var errors = new Exception?[count];
            Parallel.For(0, count, options, i =>
            {
                var dst = _values.AsSpan(i * _length, _length);
                if (_paths[i].Length == 0)
                {
                    dst.Fill(float.NaN);
                    Interlocked.Increment(ref _parent._missing);
                    return;
                }
                try
                {
                    _parent.LoadInto(_parent.ResolvePath(_paths[i]), dst);
                }
                catch (Exception ex) when (ex is IOException or WavFormatException or UnauthorizedAccessException)
                {
                    errors[i] = ex;
                }
            });
            for (int i = 0; i < count; i++)
            {
                if (errors[i] is not { } ex) continue;
                string full = _parent.ResolvePath(_paths[i]);
                string reason = ex is FileNotFoundException ? "the file does not exist" : ex.Message;
                string message = $"Row {_positions[i]}: cannot load audio '{full}' from column '{_parent.Options.InputColumnName}': {reason}";
                if (_parent.Options.OnError == AudioErrorPolicy.Fail)
                    throw new InvalidOperationException(message + Environment.NewLine +
                        "Hint: fix or remove the file, or set AudioLoadingOptions.OnError = AudioErrorPolicy.Skip to output NaN for such rows (counted and logged).", ex);
                _values.AsSpan(i * _length, _length).Fill(float.NaN);
                long n = Interlocked.Increment(ref _parent._skipped);
                using var ch = _parent._host.Start("LoadAudio");
                ch.Warning(MessageSensitivity.None, $"{message}. Skipped (output is NaN); {n} row(s) skipped so far.");
            }
        }

        public override Delegate GetOutputGetter(int output, Func<int> slot)
            => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                var editor = VBufferEditor.Create(ref dst, _length);
                _values.AsSpan(slot() * _length, _length).CopyTo(editor.Values);
                dst = editor.Commit();
            });
    }
}
