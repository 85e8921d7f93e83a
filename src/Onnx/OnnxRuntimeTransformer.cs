using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetFusion.Mapping;

namespace MLNetFusion.Onnx;

/// <summary>Options of <c>mlContext.Model.WithOnnxRuntime</c>.</summary>
public sealed class OnnxRuntimeServingOptions
{
    private const int DefaultBatchSize = MLNetFusion.Mapping.BatchMappingTransformer.DefaultBatchSize;

    /// <summary>Threads ONNX Runtime uses inside one batch (intra-op). <c>null</c> (default): TorchSharp's thread count, so both engines use the same cores.</summary>
    public int? Threads { get; set; }

    /// <summary>Rows scored together by <c>Transform</c>. Default 256.</summary>
    public int BatchSize { get; set; } = DefaultBatchSize;

    /// <summary>The export's options (which steps must be in the graph).</summary>
    public FusionOnnxExportOptions? Export { get; set; }

    /// <summary>Checks every member and throws naming the bad one; changes nothing.</summary>
    public void Validate()
    {
        if (BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be positive." + Environment.NewLine + $"Hint: {DefaultBatchSize} rows per batch is the default.");
        if (Threads is <= 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be positive (or null for TorchSharp's thread count)." + Environment.NewLine + "Hint: leave it null so both engines use the same cores.");
        Export?.Validate();
    }
}

/// <summary>
/// A fitted MLNetFusion chain's graph served by ONNX Runtime, with the chain's own output schema: <c>Score</c> with its
/// slot names, <c>PredictedLabel</c> as the same key (or the label's values after <c>MapKeyToValue</c>). A drop-in for
/// the TorchSharp model in <c>Transform</c> and <c>PredictionEngine</c>. Built by <c>mlContext.Model.WithOnnxRuntime</c>.
/// </summary>
/// <remarks>It is not saved into model files: save the TorchSharp model, and call <c>WithOnnxRuntime</c> after loading it.</remarks>
public sealed class OnnxRuntimeTransformer : BatchMappingTransformer, IDisposable
{
    private readonly InferenceSession _session;
    private readonly OnnxColumn[] _inputs;
    private readonly (OnnxColumn graph, OutputColumn column)[] _outputs;
    private bool _disposed;

    internal OnnxRuntimeTransformer(byte[] model, FusionOnnxExport export, DataViewSchema modelOutput, int threads, int batchSize) : base(batchSize)
    {
        var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        _session = new InferenceSession(model, options);
        Export = export;
        _inputs = export.Inputs.ToArray();
        foreach (var i in _inputs)
            if (i.Type != OnnxElementType.Float)
                throw new NotSupportedException($"Graph input '{i.Name}' is {i.Type}; ONNX Runtime serving feeds float columns only." + Environment.NewLine +
                    "Hint: serve this model with TorchSharp, or export it and run the graph with an ONNX Runtime session that feeds that input.");
        _outputs = export.Outputs.Select(o =>
        {
            var c = modelOutput[o.Column];
            return (o, new OutputColumn(o.Column, c.Type, c.Annotations));
        }).ToArray();
    }

    /// <summary>What the export wrote (inputs, outputs, the steps in and outside the graph).</summary>
    public FusionOnnxExport Export { get; }

    /// <inheritdoc />
    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        foreach (var i in _inputs)
        {
            var col = inputSchema.GetColumnOrNull(i.Column) ?? throw new ArgumentException($"The graph needs column '{i.Column}', which the data does not have." + Environment.NewLine +
                "Hint: apply the steps outside the graph first (WithOnnxRuntime's chain does).");
            int size = col.Type is VectorDataViewType v ? v.Size : 1;
            if (size != i.Size) throw new ArgumentException($"Column '{i.Column}' has {size} values per row; the graph reads {i.Size}." + Environment.NewLine +
                "Hint: feed the graph the featurization the model was exported with.");
        }
        return _outputs.Select(o => o.column).ToArray();
    }

    /// <inheritdoc />
    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new Mapper(this, capacity);
    }

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _session.Dispose();
    }

    private sealed class Mapper : BatchMapper
    {
        private readonly OnnxRuntimeTransformer _p;
        private readonly int _capacity;
        private readonly float[][] _in;
        private readonly ValueGetter<VBuffer<float>>?[] _vector;
        private readonly ValueGetter<float>?[] _scalar;
        private VBuffer<float> _buffer;
        private readonly object[] _out;
        private readonly string[] _inputNames, _outputNames, _inputColumns;
        private readonly RunOptions _run = new();
        private readonly long[] _positions;

        public Mapper(OnnxRuntimeTransformer p, int capacity)
        {
            _p = p; _capacity = capacity;
            _in = p._inputs.Select(i => new float[capacity * i.Size]).ToArray();
            _vector = new ValueGetter<VBuffer<float>>?[p._inputs.Length];
            _scalar = new ValueGetter<float>?[p._inputs.Length];
            _out = new object[p._outputs.Length];
            _inputNames = p._inputs.Select(i => i.Name).ToArray();
            _inputColumns = p._inputs.Select(i => i.Column).ToArray();
            _outputNames = p._outputs.Select(o => o.graph.Name).ToArray();
            _positions = new long[capacity];
        }

        public override IReadOnlyList<string> InputColumns => _inputColumns;

        public override void Bind(DataViewRow input)
        {
            for (int i = 0; i < _p._inputs.Length; i++)
            {
                var col = input.Schema[_p._inputs[i].Column];
                if (col.Type is VectorDataViewType) _vector[i] = input.GetGetter<VBuffer<float>>(col);
                else _scalar[i] = input.GetGetter<float>(col);
            }
        }

        public override void ReadRow(int slot, long position)
        {
            _positions[slot] = position;
            for (int i = 0; i < _in.Length; i++)
            {
                int size = (int)_p._inputs[i].Size;
                var dst = _in[i].AsSpan(slot * size, size);
                if (_scalar[i] is { } s) { float v = 0; s(ref v); dst[0] = v; continue; }
                _vector[i]!(ref _buffer);
                if (_buffer.Length != size)
                    throw new InvalidOperationException($"Row {position}: column '{_p._inputs[i].Column}' has {_buffer.Length} values, but the graph reads {size}." + Environment.NewLine +
                        "Hint: every row must have the same vector size.");
                _buffer.CopyTo(dst);
            }
        }

        public override void Compute(int count, bool[] active)
        {
            var values = new OrtValue[_in.Length];
            try
            {
                for (int i = 0; i < _in.Length; i++)
                {
                    long size = _p._inputs[i].Size;
                    var data = count == _capacity ? _in[i] : _in[i].AsSpan(0, (int)(count * size)).ToArray();
                    values[i] = OrtValue.CreateTensorValueFromMemory(data, new long[] { count, size });
                }
                using var results = _p._session.Run(_run, _inputNames, values, _outputNames);
                int k = 0;
                foreach (var r in results)
                {
                    // Copied into the mapper's own buffers (sized once for a full block), so a row at a time allocates no arrays.
                    switch (_p._outputs[k].graph.Type)
                    {
                        case OnnxElementType.Float: r.GetTensorDataAsSpan<float>().CopyTo(Buffer<float>(k)); break;
                        case OnnxElementType.UInt32: r.GetTensorDataAsSpan<uint>().CopyTo(Buffer<uint>(k)); break;
                        case OnnxElementType.Bool: r.GetTensorDataAsSpan<bool>().CopyTo(Buffer<bool>(k)); break;
                        case OnnxElementType.String: _out[k] = r.GetStringTensorAsArray(); break;
                        case var t: throw new NotSupportedException($"Graph output '{_p._outputs[k].graph.Name}' is {t}.");
                    }
                    k++;
                }
                CheckScores(count);
            }
            finally
            {
                foreach (var v in values) v?.Dispose();
            }
        }

        private T[] Buffer<T>(int output) => (T[])(_out[output] ??= new T[_capacity * (int)_p._outputs[output].graph.Size]);

        /// <summary>A graph cannot throw: a NaN score is where Transform refuses the row, so it is an error here too, never a NaN prediction.</summary>
        private void CheckScores(int count)
        {
            for (int o = 0; o < _out.Length; o++)
            {
                if (_out[o] is not float[] values || _p._outputs[o].column.Type is not VectorDataViewType) continue;
                int size = (int)_p._outputs[o].graph.Size;
                for (int r = 0; r < count; r++)
                    for (int j = 0; j < size; j++)
                        if (float.IsNaN(values[r * size + j]))
                            throw new InvalidOperationException(
                                $"Row {_positions[r]}: the graph's '{_p._outputs[o].column.Name}' is NaN: a modality of this row has some NaN or infinite values, or no modality is present." + Environment.NewLine +
                                "Hint: an entirely NaN vector marks a modality missing; replace partial missing values first. Serve the row with the TorchSharp model to see which column.");
            }
        }

        public override Delegate GetOutputGetter(int output, Func<int> slot)
        {
            var (graph, column) = _p._outputs[output];
            int size = (int)graph.Size;
            switch (column.Type)
            {
                case VectorDataViewType v when v.ItemType == NumberDataViewType.Single:
                    return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                    {
                        var e = VBufferEditor.Create(ref dst, size);
                        ((float[])_out[output]).AsSpan(slot() * size, size).CopyTo(e.Values);
                        dst = e.Commit();
                    });
                case VectorDataViewType v when v.ItemType == BooleanDataViewType.Instance:
                    return (ValueGetter<VBuffer<bool>>)((ref VBuffer<bool> dst) =>
                    {
                        var e = VBufferEditor.Create(ref dst, size);
                        ((bool[])_out[output]).AsSpan(slot() * size, size).CopyTo(e.Values);
                        dst = e.Commit();
                    });
                case KeyDataViewType:
                    return (ValueGetter<uint>)((ref uint dst) => dst = ((uint[])_out[output])[slot()]);
                case TextDataViewType:
                    return (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> dst) => dst = ((string[])_out[output])[slot()].AsMemory());
                case var t when t == NumberDataViewType.Single:
                    return (ValueGetter<float>)((ref float dst) => dst = ((float[])_out[output])[slot()]);
                default:
                    throw new NotSupportedException($"Output column '{column.Name}' ({column.Type}) cannot be served from the graph.");
            }
        }

        public override void Dispose() => _run.Dispose();
    }
}
