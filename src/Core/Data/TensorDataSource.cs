using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Data;

/// <summary>How training reads an <see cref="IDataView"/>.</summary>
public enum DataCaching
{
    /// <summary>Read the data once and keep it as one tensor per modality (fastest; needs the data to fit in memory).</summary>
    InMemory,
    /// <summary>Stream the data every epoch through a bounded shuffle buffer (for data larger than memory).</summary>
    Streaming,
}

/// <summary>The columns a network reads: one float vector per modality and an optional key label.</summary>
/// <param name="Columns">Feature columns, one per modality, in the network's order.</param>
/// <param name="Sizes">Each column's vector size.</param>
/// <param name="LabelColumn">The key-typed label column, or <c>null</c> at inference.</param>
public sealed record ColumnLayout(IReadOnlyList<string> Columns, IReadOnlyList<int> Sizes, string? LabelColumn);

/// <summary>Produces <see cref="FusionBatch"/>es from an <see cref="IDataView"/>.</summary>
public interface ITensorDataSource
{
    /// <summary>Rows in the source, when known.</summary>
    long? Count { get; }

    /// <summary>Enumerates one epoch of batches; shuffles with <paramref name="shuffle"/> when given.</summary>
    IEnumerable<FusionBatch> Batches(int batchSize, Random? shuffle);
}

/// <summary>Builds training/validation sources from an <see cref="IDataView"/>.</summary>
public static class TensorDataSources
{
    /// <summary>
    /// Creates the training source and, if <paramref name="validationFraction"/> &gt; 0, a validation source holding that
    /// share of rows, identical in both caching modes: whole groups of <paramref name="samplingKeyColumnName"/> when it
    /// is given (no group on both sides, see <see cref="SamplingKeyGroups.ValidationGroups"/>), else rows chosen by a
    /// seeded hash of the row position.
    /// </summary>
    public static (ITensorDataSource train, ITensorDataSource? validation) Create(
        IDataView data, ColumnLayout layout, DataCaching caching, double validationFraction, int seed, int shuffleBufferRows,
        Action<string>? warn = null, string? samplingKeyColumnName = null, Action<string>? log = null)
    {
        Func<long, bool>? isValidation = null;
        if (validationFraction > 0 && samplingKeyColumnName != null)
        {
            var groups = SamplingKeyGroups.Read(data, samplingKeyColumnName);
            var held = groups.ValidationGroups(validationFraction, seed);
            log?.Invoke($"Validation on whole groups of '{samplingKeyColumnName}': " +
                string.Join(", ", Enumerable.Range(0, groups.Count).Where(g => held[g]).Select(g => $"'{groups.GroupNames[g]}'")) +
                $" ({Enumerable.Range(0, groups.Count).Where(g => held[g]).Sum(g => groups.RowsPerGroup[g])} of {groups.RowCount} rows).");
            isValidation = pos => held[groups.GroupOf(pos)];
        }
        else if (validationFraction > 0)
            isValidation = pos => Hash(pos, seed) < validationFraction;
        if (caching == DataCaching.Streaming)
        {
            var train = new StreamingTensorSource(data, layout, shuffleBufferRows, isValidation == null ? null : p => !isValidation(p), warn);
            var valid = isValidation == null ? null : new StreamingTensorSource(data, layout, shuffleBufferRows, isValidation, warn);
            return (train, valid);
        }
        var all = InMemoryTensorSource.Load(data, layout, warn);
        if (isValidation == null) return (all, null);
        var (t, v) = all.Split(isValidation);
        all.Dispose();
        return (t, v.Count > 0 ? v : null);
    }

    internal static double Hash(long position, int seed)
    {
        ulong z = (ulong)position * 0x9E3779B97F4A7C15UL + (ulong)(uint)seed * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    internal static int[] Permutation(int n, Random rand)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) { int j = rand.Next(i + 1); (p[i], p[j]) = (p[j], p[i]); }
        return p;
    }
}

/// <summary>All rows as one tensor per modality; batches are index selections.</summary>
public sealed class InMemoryTensorSource : ITensorDataSource, IDisposable
{
    private readonly Tensor[] _features;
    private readonly Tensor[] _present;
    private readonly Tensor _labels;
    private readonly long[] _positions;

    private InMemoryTensorSource(Tensor[] features, Tensor[] present, Tensor labels, long[] positions)
    {
        _features = features; _present = present; _labels = labels; _positions = positions;
    }

    /// <inheritdoc />
    public long? Count => _positions.Length;

    /// <summary>Reads every row of <paramref name="data"/> once.</summary>
    public static InMemoryTensorSource Load(IDataView data, ColumnLayout layout, Action<string>? warn = null)
    {
        int m = layout.Columns.Count;
        int capacity = (int)Math.Clamp(data.GetRowCount() ?? 1024, 16, int.MaxValue / 8);
        var feats = new float[m][];
        var pres = new float[m][];
        for (int i = 0; i < m; i++) { feats[i] = new float[(long)capacity * layout.Sizes[i]]; pres[i] = new float[capacity]; }
        var labels = new long[capacity];
        var positions = new long[capacity];
        var cols = layout.Columns.Select(c => data.Schema[c]).ToList();
        if (layout.LabelColumn != null) cols.Add(data.Schema[layout.LabelColumn]);
        long skipped = 0;
        int n = 0;
        using (var cursor = data.GetRowCursor(cols))
        {
            var reader = new RowReader(cursor, layout.Columns, layout.Sizes, layout.LabelColumn);
            while (cursor.MoveNext())
            {
                int label = 0;
                if (layout.LabelColumn != null)
                {
                    label = reader.ReadLabel();
                    if (label < 0) { skipped++; continue; }
                }
                if (n == capacity)
                {
                    capacity = checked(capacity * 2);
                    for (int i = 0; i < m; i++) { Array.Resize(ref feats[i], capacity * layout.Sizes[i]); Array.Resize(ref pres[i], capacity); }
                    Array.Resize(ref labels, capacity);
                    Array.Resize(ref positions, capacity);
                }
                for (int i = 0; i < m; i++)
                    pres[i][n] = reader.Read(i, feats[i].AsSpan(n * layout.Sizes[i], layout.Sizes[i])) ? 1f : 0f;
                labels[n] = label;
                positions[n] = cursor.Position;
                n++;
            }
        }
        if (skipped > 0) warn?.Invoke($"Skipped {skipped} row(s) whose label '{layout.LabelColumn}' is missing (key value 0).");
        if (n == 0)
            throw new InvalidOperationException("The training data has no rows with a label." + Environment.NewLine +
                "Hint: check that the data view is not empty and that the label column maps to known key values.");
        var ft = new Tensor[m];
        var pt = new Tensor[m];
        for (int i = 0; i < m; i++)
        {
            int size = layout.Sizes[i];
            ft[i] = tensor(n == capacity ? feats[i] : feats[i].AsSpan(0, n * size).ToArray(), new long[] { n, size });
            pt[i] = tensor(n == capacity ? pres[i] : pres[i].AsSpan(0, n).ToArray(), new long[] { n });
        }
        return new InMemoryTensorSource(ft, pt, tensor(labels.AsSpan(0, n).ToArray()), positions.AsSpan(0, n).ToArray());
    }

    /// <summary>Per-modality statistics over present rows, computed on the cached tensors in one pass.</summary>
    public (double[] sum, double[] sumSq, double count)[] Moments()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var result = new (double[], double[], double)[_features.Length];
        for (int i = 0; i < _features.Length; i++)
        {
            var x = _features[i].to_type(ScalarType.Float64);
            var p = _present[i].to_type(ScalarType.Float64).unsqueeze(1);
            var xp = x * p;
            result[i] = (xp.sum(0L).data<double>().ToArray(), (xp * x).sum(0L).data<double>().ToArray(), p.sum().item<double>());
        }
        return result;
    }

    /// <summary>Splits rows by their original position.</summary>
    public (InMemoryTensorSource first, InMemoryTensorSource second) Split(Func<long, bool> toSecond)
    {
        var a = new List<long>(); var b = new List<long>();
        for (int i = 0; i < _positions.Length; i++) (toSecond(_positions[i]) ? b : a).Add(i);
        return (Subset(a.ToArray()), Subset(b.ToArray()));
    }

    private InMemoryTensorSource Subset(long[] idx)
    {
        using var index = tensor(idx);
        return new InMemoryTensorSource(
            _features.Select(f => f.index_select(0, index)).ToArray(),
            _present.Select(p => p.index_select(0, index)).ToArray(),
            _labels.index_select(0, index),
            idx.Select(i => _positions[i]).ToArray());
    }

    /// <inheritdoc />
    public IEnumerable<FusionBatch> Batches(int batchSize, Random? shuffle)
    {
        int n = _positions.Length;
        int[]? perm = shuffle == null ? null : TensorDataSources.Permutation(n, shuffle);
        for (int start = 0; start < n; start += batchSize)
        {
            int count = Math.Min(batchSize, n - start);
            if (perm == null)
            {
                yield return new FusionBatch(
                    _features.Select(f => f.narrow(0, start, count)).ToArray(),
                    _present.Select(p => p.narrow(0, start, count)).ToArray(),
                    _labels.narrow(0, start, count), count);
            }
            else
            {
                var idx = new long[count];
                for (int i = 0; i < count; i++) idx[i] = perm[start + i];
                using var index = tensor(idx);
                yield return new FusionBatch(
                    _features.Select(f => f.index_select(0, index)).ToArray(),
                    _present.Select(p => p.index_select(0, index)).ToArray(),
                    _labels.index_select(0, index), count);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _features) t.Dispose();
        foreach (var t in _present) t.Dispose();
        _labels.Dispose();
    }
}

/// <summary>
/// Streams rows every epoch with a bounded shuffle buffer of <c>bufferRows</c> rows: memory stays
/// <c>O(bufferRows + batchSize)</c> whatever the number of rows.
/// </summary>
public sealed class StreamingTensorSource : ITensorDataSource
{
    private readonly IDataView _data;
    private readonly ColumnLayout _layout;
    private readonly int _bufferRows;
    private readonly Func<long, bool>? _include;
    private readonly Action<string>? _warn;

    /// <summary>Creates a streaming source over <paramref name="data"/>.</summary>
    public StreamingTensorSource(IDataView data, ColumnLayout layout, int bufferRows, Func<long, bool>? include = null, Action<string>? warn = null)
    {
        _data = data; _layout = layout; _bufferRows = Math.Max(1, bufferRows); _include = include; _warn = warn;
    }

    /// <inheritdoc />
    public long? Count => _include == null ? _data.GetRowCount() : null;

    /// <inheritdoc />
    public IEnumerable<FusionBatch> Batches(int batchSize, Random? shuffle)
    {
        int m = _layout.Columns.Count;
        int cap = shuffle == null ? 1 : _bufferRows;
        var rowFeats = new float[cap][][];
        var rowPres = new bool[cap][];
        var rowLabel = new long[cap];
        for (int r = 0; r < cap; r++)
        {
            rowFeats[r] = _layout.Sizes.Select(s => new float[s]).ToArray();
            rowPres[r] = new bool[m];
        }
        var batchFeats = _layout.Sizes.Select(s => new float[batchSize * s]).ToArray();
        var batchPres = Enumerable.Range(0, m).Select(_ => new float[batchSize]).ToArray();
        var batchLabels = new long[batchSize];
        int inBatch = 0, filled = 0;
        long skipped = 0;

        var cols = _layout.Columns.Select(c => _data.Schema[c]).ToList();
        if (_layout.LabelColumn != null) cols.Add(_data.Schema[_layout.LabelColumn]);
        using var cursor = _data.GetRowCursor(cols);
        var reader = new RowReader(cursor, _layout.Columns, _layout.Sizes, _layout.LabelColumn);

        FusionBatch Emit(int count)
        {
            var f = new Tensor[m]; var p = new Tensor[m];
            for (int i = 0; i < m; i++)
            {
                int s = _layout.Sizes[i];
                f[i] = tensor(count == batchSize ? batchFeats[i] : batchFeats[i].AsSpan(0, count * s).ToArray(), new long[] { count, s });
                p[i] = tensor(count == batchSize ? batchPres[i] : batchPres[i].AsSpan(0, count).ToArray(), new long[] { count });
            }
            var l = tensor(count == batchSize ? batchLabels : batchLabels.AsSpan(0, count).ToArray());
            return new FusionBatch(f, p, l, count);
        }

        void Put(int r)
        {
            for (int i = 0; i < m; i++)
            {
                rowFeats[r][i].CopyTo(batchFeats[i], inBatch * _layout.Sizes[i]);
                batchPres[i][inBatch] = rowPres[r][i] ? 1f : 0f;
            }
            batchLabels[inBatch] = rowLabel[r];
            inBatch++;
        }

        while (cursor.MoveNext())
        {
            if (_include != null && !_include(cursor.Position)) continue;
            int label = 0;
            if (_layout.LabelColumn != null)
            {
                label = reader.ReadLabel();
                if (label < 0) { skipped++; continue; }
            }
            int slot;
            if (filled < cap) slot = filled++;
            else
            {
                // Buffer full: emit a random buffered row, then overwrite its slot with the new row.
                slot = shuffle == null ? 0 : shuffle.Next(cap);
                Put(slot);
                if (inBatch == batchSize) { yield return Emit(batchSize); inBatch = 0; }
            }
            for (int i = 0; i < m; i++) rowPres[slot][i] = reader.Read(i, rowFeats[slot][i]);
            rowLabel[slot] = label;
        }
        // Drain the buffer in random order.
        var order = shuffle == null ? Enumerable.Range(0, filled).ToArray() : TensorDataSources.Permutation(filled, shuffle);
        foreach (int r in order)
        {
            Put(r);
            if (inBatch == batchSize) { yield return Emit(batchSize); inBatch = 0; }
        }
        if (inBatch > 0) yield return Emit(inBatch);
        if (skipped > 0) _warn?.Invoke($"Skipped {skipped} row(s) whose label '{_layout.LabelColumn}' is missing (key value 0).");
    }
}
