using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Mapping;

namespace MLNetFusion.Pretrained;

/// <summary>
/// What MLNetFusion's frozen pretrained encoders share (<c>EmbedSentences</c>, <c>EmbedImages</c>): one input column
/// read row by row, embedded a batch at a time into a fixed-width <c>Vector&lt;Single&gt;</c>, the rows and compute time
/// counted for the leaderboard's cost line (<see cref="IFeaturizationCost"/>), and progress reported every few seconds
/// of a long pass.
/// </summary>
public abstract class PretrainedEmbeddingTransformer : BatchMappingTransformer, IFeaturizationCost
{
    private readonly Action<long, TimeSpan>? _progress;
    private long _rows, _ticks;

    private protected PretrainedEmbeddingTransformer(int batchSize, int width, string outputColumnName, string inputColumnName, Action<long, TimeSpan>? progress)
        : base(batchSize)
    {
        Width = width;
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        _progress = progress;
    }

    /// <summary>The embedding width.</summary>
    public int Width { get; }

    /// <summary>The column it writes.</summary>
    public string OutputColumnName { get; }

    /// <summary>The column it reads.</summary>
    public string InputColumnName { get; }

    /// <inheritdoc />
    public abstract string CostDescription { get; }

    /// <inheritdoc />
    public long RowsComputed => Interlocked.Read(ref _rows);

    /// <inheritdoc />
    public TimeSpan ComputeTime => TimeSpan.FromTicks(Interlocked.Read(ref _ticks));

    /// <summary>Throws ML.NET's schema errors when the input column is missing or of the wrong type.</summary>
    private protected abstract void CheckInput(DataViewSchema inputSchema);

    /// <inheritdoc />
    protected sealed override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return new[] { new OutputColumn(OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, Width)) };
    }

    /// <summary>A mapper that reads <typeparamref name="T"/> per row and embeds a batch of them.</summary>
    private protected abstract class EmbeddingMapper<T> : BatchMapper
    {
        private readonly PretrainedEmbeddingTransformer _parent;
        private readonly float[] _output;
        private readonly Stopwatch _clock = new();
        private long _done;
        private TimeSpan _lastReport;

        protected EmbeddingMapper(PretrainedEmbeddingTransformer parent, int capacity)
        {
            _parent = parent;
            Values = new T[capacity];
            _output = new float[capacity * parent.Width];
        }

        /// <summary>The batch's inputs, by slot.</summary>
        protected T[] Values { get; }

        public sealed override IReadOnlyList<string> InputColumns => new[] { _parent.InputColumnName };

        /// <summary>Embeds the first <paramref name="count"/> values into <paramref name="output"/> (<c>count × Width</c>), all NaN for a missing one.</summary>
        protected abstract void Embed(int count, Span<float> output);

        public sealed override void Compute(int count, bool[] active)
        {
            long start = Stopwatch.GetTimestamp();
            _clock.Start();
            Embed(count, _output.AsSpan(0, count * _parent.Width));
            _clock.Stop();
            Interlocked.Add(ref _parent._ticks, Stopwatch.GetElapsedTime(start).Ticks);
            Interlocked.Add(ref _parent._rows, count);
            _done += count;
            if (_parent._progress is { } progress && _clock.Elapsed - _lastReport >= TimeSpan.FromSeconds(2))
            {
                _lastReport = _clock.Elapsed;
                progress(_done, _clock.Elapsed);
            }
        }

        public sealed override Delegate GetOutputGetter(int output, Func<int> slot)
            => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                int width = _parent.Width;
                var editor = VBufferEditor.Create(ref dst, width);
                _output.AsSpan(slot() * width, width).CopyTo(editor.Values);
                dst = editor.Commit();
            });
    }
}
