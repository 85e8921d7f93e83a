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

/// <summary>Produces <see cref="FusionBatch"/>es from an <see cref="IDataView"/>. Dispose it to free cached tensors.</summary>
internal interface ITensorDataSource : IDisposable
{
    /// <summary>Rows in the source, when known.</summary>
    long? Count { get; }

    /// <summary>Enumerates one epoch of batches; shuffles with <paramref name="shuffle"/> when given.</summary>
    IEnumerable<FusionBatch> Batches(int batchSize, Random? shuffle);
}

/// <summary>Builds training/validation sources from an <see cref="IDataView"/>.</summary>
internal static class TensorDataSources
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
            isValidation = pos => SeededShuffle.Hash(pos, seed) < validationFraction;
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
}

/// <summary>All rows as one tensor per modality; batches are index selections.</summary>
internal sealed class InMemoryTensorSource : ITensorDataSource
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

    /// <summary>A modality missing in more than this share of the training rows is reported through the log as a warning.</summary>
    public const double MissingShareWarning = 0.5;

    /// <summary>Reads every row of <paramref name="data"/> once; warns (through <paramref name="warn"/>) about modalities mostly or entirely missing.</summary>
    public static InMemoryTensorSource Load(IDataView data, ColumnLayout layout, Action<string>? warn = null)
    {
        var rows = new BatchBuilder(layout.Sizes, (int)Math.Clamp(data.GetRowCount() ?? 1024, 16, int.MaxValue / 8));
        var positions = new long[rows.Capacity];
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
                if (n == rows.Capacity) { rows.Grow(); Array.Resize(ref positions, rows.Capacity); }
                rows.Read(reader, n, label);
                positions[n] = cursor.Position;
                n++;
            }
        }
        if (skipped > 0) warn?.Invoke($"Skipped {skipped} row(s) whose label '{layout.LabelColumn}' is missing (key value 0).");
        if (n == 0)
            throw new InvalidOperationException("The training data has no rows with a label." + Environment.NewLine +
                "Hint: check that the data view is not empty and that the label column maps to known key values.");
        var all = rows.ToBatch(n, withLabels: true);
        WarnAboutMissing(layout, n, Enumerable.Range(0, layout.Columns.Count).Select(m => (long)all.Present[m].sum().item<float>()).ToArray(), warn);
        return new InMemoryTensorSource(all.Features, all.Present, all.Labels!, positions.AsSpan(0, n).ToArray());
    }

    /// <summary>Warns about modalities entirely missing, or missing in more than <see cref="MissingShareWarning"/> of the <paramref name="rows"/> training rows.</summary>
    internal static void WarnAboutMissing(ColumnLayout layout, long rows, IReadOnlyList<long> present, Action<string>? warn)
    {
        for (int m = 0; m < layout.Columns.Count; m++)
        {
            if (present[m] == 0)
                warn?.Invoke($"Column '{layout.Columns[m]}' is missing (entirely NaN) in all {rows} training rows, so its modality learns nothing. " +
                    "Check its featurization: an empty path, or a file skipped by OnError = Skip, gives a missing row.");
            else if (rows - present[m] > MissingShareWarning * rows)
                warn?.Invoke($"Column '{layout.Columns[m]}' is missing (entirely NaN) in {rows - present[m]} of {rows} training rows ({(double)(rows - present[m]) / rows:P0}, " +
                    $"more than {MissingShareWarning:P0}); its modality learns from the other {present[m]} only.");
        }
    }

    /// <summary>Per-modality statistics over present rows, computed on the cached tensors in one pass.</summary>
    public FeatureMoments[] Moments()
    {
        var result = new FeatureMoments[_features.Length];
        for (int i = 0; i < _features.Length; i++)
        {
            result[i] = new FeatureMoments((int)_features[i].shape[1]);
            result[i].Add(_features[i], _present[i]);
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
        int[]? perm = shuffle == null ? null : SeededShuffle.Permutation(n, shuffle);
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
internal sealed class StreamingTensorSource : ITensorDataSource
{
    private readonly IDataView _data;
    private readonly ColumnLayout _layout;
    private readonly int _bufferRows;
    private readonly Func<long, bool>? _include;
    private readonly Action<string>? _warn;
    private bool _checkedMissing;

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
        var buffer = new BatchBuilder(_layout.Sizes, shuffle == null ? 1 : _bufferRows);
        var batch = new BatchBuilder(_layout.Sizes, batchSize);
        int inBatch = 0, filled = 0;
        long skipped = 0;

        var cols = _layout.Columns.Select(c => _data.Schema[c]).ToList();
        if (_layout.LabelColumn != null) cols.Add(_data.Schema[_layout.LabelColumn]);
        using var cursor = _data.GetRowCursor(cols);
        var reader = new RowReader(cursor, _layout.Columns, _layout.Sizes, _layout.LabelColumn);
        // The first pass counts each modality's present rows, to warn as the in-memory source does.
        var present = new long[_layout.Columns.Count];
        long rows = 0;

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
            if (filled < buffer.Capacity) slot = filled++;
            else
            {
                // Buffer full: emit a random buffered row, then overwrite its slot with the new row.
                slot = shuffle == null ? 0 : shuffle.Next(buffer.Capacity);
                batch.CopyRow(buffer, slot, inBatch++);
                if (inBatch == batchSize) { yield return batch.ToBatch(batchSize, withLabels: true); inBatch = 0; }
            }
            buffer.Read(reader, slot, label);
            rows++;
            for (int m = 0; m < present.Length; m++) if (buffer.IsPresent(m, slot)) present[m]++;
        }
        if (!_checkedMissing)
        {
            _checkedMissing = true;
            InMemoryTensorSource.WarnAboutMissing(_layout, rows, present, _warn);
        }
        // Drain the buffer in random order.
        var order = shuffle == null ? Enumerable.Range(0, filled).ToArray() : SeededShuffle.Permutation(filled, shuffle);
        foreach (int r in order)
        {
            batch.CopyRow(buffer, r, inBatch++);
            if (inBatch == batchSize) { yield return batch.ToBatch(batchSize, withLabels: true); inBatch = 0; }
        }
        if (inBatch > 0) yield return batch.ToBatch(inBatch, withLabels: true);
        if (skipped > 0) _warn?.Invoke($"Skipped {skipped} row(s) whose label '{_layout.LabelColumn}' is missing (key value 0).");
    }

    /// <inheritdoc />
    public void Dispose() { }
}
