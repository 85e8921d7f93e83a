using Microsoft.ML.Runtime;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Persistence;

namespace MLNetFusion.Transforms.Audio;

/// <summary>Options of <see cref="FrameStatisticsEstimator"/>.</summary>
public sealed class FrameStatisticsOptions
{
    /// <summary>The output column (<c>Vector&lt;Single, 2, bands&gt;</c>).</summary>
    public string OutputColumnName { get; set; } = "FrameStatistics";
    /// <summary>The spectrogram column (<c>Vector&lt;Single, bands, frames&gt;</c>).</summary>
    public string InputColumnName { get; set; } = "LogMel";

    /// <summary>Checks every member and throws naming the bad one; changes nothing.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputColumnName))
            throw new ArgumentException("FrameStatisticsOptions.OutputColumnName is required." + Environment.NewLine + "Hint: name the column of per-band means and deviations, for example \"FrameStatistics\".", nameof(OutputColumnName));
        if (string.IsNullOrWhiteSpace(InputColumnName))
            throw new ArgumentException("FrameStatisticsOptions.InputColumnName is required." + Environment.NewLine + "Hint: name the spectrogram column MelSpectrogram wrote, for example \"LogMel\".", nameof(InputColumnName));
    }
}

/// <summary>
/// Summarises a <c>[bands, frames]</c> spectrogram over time: for every band its mean and standard deviation over the
/// frames, giving <c>Vector&lt;Single, 2, bands&gt;</c> (means first). Low-dimensional, shift-invariant audio features for
/// linear and tree trainers in early fusion (the "MFCC means" baseline, on log-mel). Reach it with
/// <c>mlContext.Transforms.SummarizeFrames(...)</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description><c>Vector&lt;Single, bands, frames&gt;</c> (from <c>MelSpectrogram</c>).</description></item>
/// <item><term>Output</term><description><c>Vector&lt;Single, 2, bands&gt;</c>: per-band means, then per-band standard deviations. An all-NaN input (missing audio) gives an all-NaN output.</description></item>
/// <item><term>Package</term><description>MLNetFusion.Transforms.</description></item>
/// </list>
/// </remarks>
public sealed class FrameStatisticsEstimator : StatelessEstimator<FrameStatisticsTransformer>
{
    private readonly string _output, _input;

    /// <summary>Creates the estimator.</summary>
    /// <param name="env">The ML.NET environment (an <see cref="MLContext"/>).</param>
    /// <param name="options">The output and input columns.</param>
    public FrameStatisticsEstimator(IHostEnvironment env, FrameStatisticsOptions options) : base(env, "MLNetFusion.SummarizeFrames")
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _output = options.OutputColumnName;
        _input = options.InputColumnName;
    }

    /// <inheritdoc />
    protected override FrameStatisticsTransformer Create(DataViewSchema inputSchema) => new(_output, _input);

    /// <inheritdoc />
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaShapes.RequireFloatVector(inputSchema, _input);
        return SchemaShapes.Append(inputSchema, new[] { SchemaShapes.Column(_output, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
    }
}

/// <summary>The fitted <see cref="FrameStatisticsEstimator"/> (stateless).</summary>
public sealed class FrameStatisticsTransformer : BatchMappingTransformer, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.SummarizeFrames";

    string IFusionSaveable.ComponentKind => Kind;
    void IFusionSaveable.Save(ComponentWriter writer) => writer.WriteConfig(new[] { OutputColumnName, InputColumnName });
    internal static FrameStatisticsTransformer Load(ComponentReader reader)
        => reader.ReadConfig<string[]>() is [var output, var input] ? new(output, input) : throw reader.Invalid("expected two column names");

    internal FrameStatisticsTransformer(string output, string input) : base(64)
    {
        OutputColumnName = output; InputColumnName = input;
    }

    /// <summary>Output column.</summary>
    public string OutputColumnName { get; }

    /// <summary>Input column.</summary>
    public string InputColumnName { get; }

    private (int bands, int frames) Dims(DataViewSchema schema)
    {
        SchemaErrors.RequireFloatVector(schema, InputColumnName);
        if (schema[InputColumnName].Type is VectorDataViewType { Dimensions.Length: 2 } v) return (v.Dimensions[0], v.Dimensions[1]);
        throw SchemaErrors.Mismatch(InputColumnName, "Vector<Single, bands, frames>", schema[InputColumnName].Type,
            "produce the column with MelSpectrogram, which records [bands, frames] in its type.");
    }

    /// <inheritdoc />
    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        var (bands, _) = Dims(inputSchema);
        return new[] { new OutputColumn(OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, 2, bands)) };
    }

    /// <inheritdoc />
    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity)
    {
        var (bands, frames) = Dims(inputSchema);
        return new Mapper(this, bands, frames);
    }

    private sealed class Mapper : BatchMapper
    {
        private readonly FrameStatisticsTransformer _parent;
        private readonly int _bands, _frames;
        private readonly List<float[]> _out = new();
        private ValueGetter<VBuffer<float>>? _getter;
        private VBuffer<float> _buffer;
        private float[] _dense = Array.Empty<float>();

        public Mapper(FrameStatisticsTransformer parent, int bands, int frames) { _parent = parent; _bands = bands; _frames = frames; }

        public override IReadOnlyList<string> InputColumns => new[] { _parent.InputColumnName };

        public override void Bind(DataViewRow input) => _getter = input.GetGetter<VBuffer<float>>(input.Schema[_parent.InputColumnName]);

        public override void ReadRow(int slot, long position)
        {
            _getter!(ref _buffer);
            while (_out.Count <= slot) _out.Add(new float[2 * _bands]);
            var dst = _out[slot];
            if (_dense.Length != _buffer.Length) _dense = new float[_buffer.Length];
            _buffer.CopyTo(_dense);
            var values = _dense;
            for (int b = 0; b < _bands; b++)
            {
                double sum = 0, sumSq = 0;
                for (int f = 0; f < _frames; f++) { double v = values[b * _frames + f]; sum += v; sumSq += v * v; }
                double mean = sum / _frames;
                dst[b] = (float)mean;
                dst[_bands + b] = (float)Math.Sqrt(Math.Max(0, sumSq / _frames - mean * mean));
            }
        }

        public override void Compute(int count, bool[] active) { }

        public override Delegate GetOutputGetter(int output, Func<int> slot)
            => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                var editor = VBufferEditor.Create(ref dst, 2 * _bands);
                _out[slot()].CopyTo(editor.Values);
                dst = editor.Commit();
            });
    }
}
