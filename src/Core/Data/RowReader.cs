using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Data;

/// <summary>
/// Reads feature vectors and a key label from the current row of a cursor into dense float spans, applying
/// MLNetFusion's missing-modality convention: a modality whose vector is entirely NaN is missing (its mask is 0 and
/// its values become 0); a vector with only some NaN values, or any infinite value, is an error.
/// </summary>
internal sealed class RowReader
{
    private readonly ValueGetter<VBuffer<float>>?[] _vectorGetters;
    private readonly ValueGetter<float>?[] _scalarGetters;
    private readonly ValueGetter<uint>? _label;
    private readonly string[] _names;
    private readonly int[] _sizes;
    private readonly DataViewRow _row;
    private VBuffer<float> _buffer;
    private readonly bool _nonFiniteAsMissing;

    /// <param name="row">The row to read.</param>
    /// <param name="columns">The modality columns.</param>
    /// <param name="sizes">Their vector sizes.</param>
    /// <param name="labelColumn">The key label, or <c>null</c>.</param>
    /// <param name="nonFiniteAsMissing">Read a modality with NaN or infinite values (not entirely NaN) as missing instead of
    /// throwing, and set <see cref="TreatedAsMissing"/> (prediction's opt-in <c>NonFiniteInputHandling.TreatAsMissing</c>).</param>
    public RowReader(DataViewRow row, IReadOnlyList<string> columns, IReadOnlyList<int> sizes, string? labelColumn, bool nonFiniteAsMissing = false)
    {
        _nonFiniteAsMissing = nonFiniteAsMissing;
        _row = row;
        _names = columns.ToArray();
        _sizes = sizes.ToArray();
        _vectorGetters = new ValueGetter<VBuffer<float>>?[_names.Length];
        _scalarGetters = new ValueGetter<float>?[_names.Length];
        for (int i = 0; i < _names.Length; i++)
        {
            var col = row.Schema[_names[i]];
            if (col.Type is VectorDataViewType) _vectorGetters[i] = row.GetGetter<VBuffer<float>>(col);
            else _scalarGetters[i] = row.GetGetter<float>(col);
        }
        if (labelColumn != null) _label = row.GetGetter<uint>(row.Schema[labelColumn]);
    }

    /// <summary>Whether the last <see cref="Read"/> found non-finite values and read the modality as missing (opt-in only).</summary>
    public bool TreatedAsMissing { get; private set; }

    /// <summary>Number of modalities read.</summary>
    public int Count => _names.Length;

    /// <summary>Reads the label; returns -1 for a missing label (key value 0).</summary>
    public int ReadLabel()
    {
        uint key = 0;
        _label!(ref key);
        return key == 0 ? -1 : (int)key - 1;
    }

    /// <summary>An infinite value is never read as data: it would become NaN scores or a NaN loss.</summary>
    private InvalidOperationException Infinite(int m, int count, int index, float value) => new(
        $"Row {_row.Position}: column '{_names[m]}' has {count} infinite value(s) (the first is {(value > 0 ? "+" : "-")}Inf at index {index})." + Environment.NewLine +
        "Hint: infinities usually come from a log of zero or a division by zero upstream; clip or replace them before this step " +
        "(MLNetFusion reads only an entirely NaN vector as 'modality missing').");

    /// <summary>Reads modality <paramref name="m"/> into <paramref name="dst"/>; returns false when the modality is missing.</summary>
    public bool Read(int m, Span<float> dst)
    {
        TreatedAsMissing = false;
        if (_scalarGetters[m] is { } sg)
        {
            float v = 0;
            sg(ref v);
            if (float.IsNaN(v)) { dst[0] = 0; return false; }
            if (float.IsInfinity(v) && _nonFiniteAsMissing) { dst[0] = 0; TreatedAsMissing = true; return false; }
            if (float.IsInfinity(v)) throw Infinite(m, 1, 0, v);
            dst[0] = v;
            return true;
        }
        _vectorGetters[m]!(ref _buffer);
        if (_buffer.Length != _sizes[m])
            throw new InvalidOperationException(
                $"Row {_row.Position}: column '{_names[m]}' has {_buffer.Length} values, but the model expects {_sizes[m]}." + Environment.NewLine +
                "Hint: every row must have the same vector size; fix the featurization so the vector size is fixed.");
        if (_buffer.IsDense)
            _buffer.GetValues().CopyTo(dst);
        else
        {
            dst.Clear();
            var idx = _buffer.GetIndices();
            var val = _buffer.GetValues();
            for (int i = 0; i < idx.Length; i++) dst[idx[i]] = val[i];
        }
        int nan = 0, inf = 0, firstInf = -1;
        for (int i = 0; i < dst.Length; i++)
        {
            if (float.IsNaN(dst[i])) nan++;
            else if (float.IsInfinity(dst[i])) { inf++; if (firstInf < 0) firstInf = i; }
        }
        if (nan == 0 && inf == 0) return true;
        if (nan == dst.Length) { dst.Clear(); return false; }
        if (_nonFiniteAsMissing) { dst.Clear(); TreatedAsMissing = true; return false; }
        if (inf > 0) throw Infinite(m, inf, firstInf, dst[firstInf]);
        throw new InvalidOperationException(
            $"Row {_row.Position}: column '{_names[m]}' has {nan} NaN values out of {dst.Length}." + Environment.NewLine +
            "Hint: MLNetFusion reads a vector that is entirely NaN as 'modality missing'. Replace partial missing values first " +
            $"(mlContext.Transforms.ReplaceMissingValues(\"{_names[m]}\")), or set the whole vector to NaN to mark the modality absent.");
    }
}
