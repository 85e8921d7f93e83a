using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Mapping;

/// <summary>
/// Base for MLNetFusion transformers that append columns computed from the input row by row, but evaluated in blocks
/// of <see cref="BatchSize"/> rows (one tensor per block, never one per row). It implements the public ML.NET
/// interfaces (<see cref="ITransformer"/>, <see cref="IRowToRowMapper"/> via <see cref="GetRowToRowMapper"/>) so that
/// <c>Transform</c>, <c>TransformerChain</c> and <c>PredictionEngine</c> all work.
/// </summary>
public abstract class BatchMappingTransformer : ITransformer
{
    /// <summary>The rows evaluated together unless a component says otherwise: the one default batch of MLNetFusion's mappers, its networks' inference and its ONNX Runtime serving.</summary>
    public const int DefaultBatchSize = 256;

    /// <summary>Creates the transformer, evaluating <see cref="DefaultBatchSize"/> rows together.</summary>
    protected BatchMappingTransformer() : this(DefaultBatchSize) { }

    /// <summary>Creates the transformer.</summary>
    /// <param name="batchSize">Rows evaluated together inside <c>Transform</c>.</param>
    protected BatchMappingTransformer(int batchSize)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), "The batch size must be positive.");
        BatchSize = batchSize;
    }

    /// <summary>Rows evaluated together in <c>Transform</c>.</summary>
    public int BatchSize { get; }

    /// <summary>Always <c>true</c>: every MLNetFusion mapper works row by row, so PredictionEngine works.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>Validates <paramref name="inputSchema"/> and returns the appended columns. Throws with a hint on mismatch.</summary>
    protected abstract IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema);

    /// <summary>Creates a mapper for one cursor (<paramref name="capacity"/> = <see cref="BatchSize"/>) or one row (1).</summary>
    protected abstract BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity);

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var c in GetOutputColumns(inputSchema)) builder.AddColumn(c.Name, c.Type, c.Annotations);
        return builder.ToSchema();
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new MappedDataView(this, input, GetOutputSchema(input.Schema));
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new RowMapper(this, inputSchema, GetOutputSchema(inputSchema));
    }

    /// <summary>
    /// ML.NET (5 and 6) keeps <see cref="ModelSaveContext"/>'s members internal, so third-party transformers cannot write
    /// themselves into ML.NET's model zip; MLNetFusion's own format holds them (<c>mlContext.Model.SaveFusionModel</c>).
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(
        $"{GetType().Name} cannot be saved with mlContext.Model.Save: ML.NET (5 and 6) does not let third-party transformers write to its model format." +
        Environment.NewLine + "Hint: save the pipeline with mlContext.Model.SaveFusionModel(model, data.Schema, path) and load it with " +
        "mlContext.Model.LoadFusionModel(path, out var schema); the file also holds ML.NET's own transformers.");

    private bool[] ActiveOutputs(DataViewSchema outputSchema, int inputCount, Func<int, bool> isActive)
    {
        var active = new bool[outputSchema.Count - inputCount];
        for (int i = 0; i < active.Length; i++) active[i] = isActive(inputCount + i);
        return active;
    }

    private sealed class MappedDataView : IDataView
    {
        private readonly BatchMappingTransformer _parent;
        private readonly IDataView _input;

        public MappedDataView(BatchMappingTransformer parent, IDataView input, DataViewSchema schema)
        {
            _parent = parent; _input = input; Schema = schema;
        }

        public bool CanShuffle => false;
        public DataViewSchema Schema { get; }
        public long? GetRowCount() => _input.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            int inputCount = _input.Schema.Count;
            var needed = new HashSet<int>(columnsNeeded.Select(c => c.Index));
            var active = _parent.ActiveOutputs(Schema, inputCount, needed.Contains);
            bool anyOutput = active.Any(a => a);
            BatchMapper? mapper = anyOutput ? _parent.CreateMapper(_input.Schema, _parent.BatchSize) : null;
            var inputNeeded = new HashSet<int>(needed.Where(i => i < inputCount));
            var passThrough = inputNeeded.ToArray();
            if (mapper != null)
                foreach (var name in mapper.InputColumns) inputNeeded.Add(_input.Schema[name].Index);
            var cursor = _input.GetRowCursor(inputNeeded.Select(i => _input.Schema[i]));
            return new BatchCursor(this, cursor, mapper, active, passThrough, _parent.BatchSize);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
            => new[] { GetRowCursor(columnsNeeded, rand) };

        private sealed class BatchCursor : DataViewRowCursor
        {
            private readonly MappedDataView _view;
            private readonly DataViewRowCursor _input;
            private readonly BatchMapper? _mapper;
            private readonly bool[] _active;
            private readonly Dictionary<int, ColumnBuffer> _buffers = new();
            private readonly int _capacity;
            private int _count, _slot = -1;
            private long _position = -1;
            private bool _done, _disposed;

            public BatchCursor(MappedDataView view, DataViewRowCursor input, BatchMapper? mapper, bool[] active, int[] passThrough, int capacity)
            {
                _view = view; _input = input; _mapper = mapper; _active = active;
                // A pure pass-through cursor needs no read-ahead: it serves input values directly.
                _capacity = mapper == null ? 1 : capacity;
                mapper?.Bind(input);
                if (mapper != null)
                    foreach (int i in passThrough) _buffers[i] = ColumnBuffer.Create(input, input.Schema[i], _capacity);
            }

            public override DataViewSchema Schema => _view.Schema;
            public override long Position => _position;
            public override long Batch => 0;

            public override ValueGetter<DataViewRowId> GetIdGetter()
                => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

            public override bool IsColumnActive(DataViewSchema.Column column)
            {
                int inputCount = _input.Schema.Count;
                return column.Index < inputCount ? _input.IsColumnActive(_input.Schema[column.Index]) && (_mapper == null || _buffers.ContainsKey(column.Index)) : _active[column.Index - inputCount];
            }

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                int inputCount = _input.Schema.Count;
                if (column.Index < inputCount)
                {
                    if (_mapper == null) return _input.GetGetter<TValue>(_input.Schema[column.Index]);
                    if (!_buffers.TryGetValue(column.Index, out var buffer))
                        throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
                    return (ValueGetter<TValue>)buffer.Getter(() => _slot);
                }
                int output = column.Index - inputCount;
                if (!_active[output]) throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
                return (ValueGetter<TValue>)_mapper!.GetOutputGetter(output, () => _slot);
            }

            public override bool MoveNext()
            {
                if (_done || _disposed) return false;
                if (_mapper == null)
                {
                    if (!_input.MoveNext()) { _done = true; return false; }
                    _position++;
                    return true;
                }
                _slot++;
                if (_slot >= _count)
                {
                    _count = 0;
                    while (_count < _capacity && _input.MoveNext())
                    {
                        _mapper.ReadRow(_count, _input.Position);
                        foreach (var b in _buffers.Values) b.Read(_count);
                        _count++;
                    }
                    if (_count == 0) { _done = true; return false; }
                    _mapper.Compute(_count, _active);
                    _slot = 0;
                }
                _position++;
                return true;
            }

            protected override void Dispose(bool disposing)
            {
                if (_disposed) return;
                _disposed = true;
                if (disposing) { _mapper?.Dispose(); _input.Dispose(); }
                base.Dispose(disposing);
            }
        }
    }

    private sealed class RowMapper : IRowToRowMapper
    {
        private readonly BatchMappingTransformer _parent;

        public RowMapper(BatchMappingTransformer parent, DataViewSchema inputSchema, DataViewSchema outputSchema)
        {
            _parent = parent; InputSchema = inputSchema; OutputSchema = outputSchema;
        }

        public DataViewSchema InputSchema { get; }
        public DataViewSchema OutputSchema { get; }

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
        {
            int inputCount = InputSchema.Count;
            var result = new HashSet<int>();
            bool anyOutput = false;
            foreach (var c in dependingColumns)
            {
                if (c.Index < inputCount) result.Add(c.Index); else anyOutput = true;
            }
            if (anyOutput)
            {
                using var m = _parent.CreateMapper(InputSchema, 1);
                foreach (var name in m.InputColumns) result.Add(InputSchema[name].Index);
            }
            return result.OrderBy(i => i).Select(i => InputSchema[i]).ToArray();
        }

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
        {
            var active = _parent.ActiveOutputs(OutputSchema, InputSchema.Count, i => activeColumns.Any(c => c.Index == i));
            return new MappedRow(OutputSchema, input, active.Any(a => a) ? _parent.CreateMapper(InputSchema, 1) : null, active);
        }

        private sealed class MappedRow : DataViewRow
        {
            private readonly DataViewRow _input;
            private readonly BatchMapper? _mapper;
            private readonly bool[] _active;
            private long _computedFor = long.MinValue;
            private bool _disposed;

            public MappedRow(DataViewSchema schema, DataViewRow input, BatchMapper? mapper, bool[] active)
            {
                Schema = schema; _input = input; _mapper = mapper; _active = active;
                mapper?.Bind(input);
            }

            public override DataViewSchema Schema { get; }
            public override long Position => _input.Position;
            public override long Batch => _input.Batch;
            public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

            public override bool IsColumnActive(DataViewSchema.Column column)
                => column.Index < _input.Schema.Count ? _input.IsColumnActive(_input.Schema[column.Index]) : _active[column.Index - _input.Schema.Count];

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                int inputCount = _input.Schema.Count;
                if (column.Index < inputCount) return _input.GetGetter<TValue>(_input.Schema[column.Index]);
                int output = column.Index - inputCount;
                if (!_active[output]) throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was created.");
                var inner = (ValueGetter<TValue>)_mapper!.GetOutputGetter(output, () => 0);
                return (ref TValue value) =>
                {
                    if (_computedFor != _input.Position || _input.Position < 0)
                    {
                        _mapper.ReadRow(0, _input.Position);
                        _mapper.Compute(1, _active);
                        _computedFor = _input.Position;
                    }
                    inner(ref value);
                };
            }

            protected override void Dispose(bool disposing)
            {
                if (_disposed) return;
                _disposed = true;
                if (disposing) _mapper?.Dispose();
                base.Dispose(disposing);
            }
        }
    }
}
