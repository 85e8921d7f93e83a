using static TorchSharp.torch;

namespace MLNetFusion.Data;

/// <summary>
/// The one place rows become a <see cref="FusionBatch"/>: per-modality float rows, presence flags and labels are written
/// into slots of flat arrays (one per modality), and <see cref="ToBatch"/> copies the first rows into tensors. Training
/// (in memory and streaming) and inference (<c>FusionPredictionTransformer</c>) both fill batches through it.
/// </summary>
internal sealed class BatchBuilder
{
    private readonly int[] _sizes;
    private float[][] _features;
    private float[][] _present;
    private long[] _labels;

    /// <summary>Creates a builder for <paramref name="capacity"/> rows of modalities of the given sizes.</summary>
    public BatchBuilder(IReadOnlyList<int> sizes, int capacity)
    {
        _sizes = sizes.ToArray();
        Capacity = Math.Max(1, capacity);
        _features = _sizes.Select(s => new float[checked((long)Capacity * s)]).ToArray();
        _present = _sizes.Select(_ => new float[Capacity]).ToArray();
        _labels = new long[Capacity];
    }

    /// <summary>Rows the builder holds.</summary>
    public int Capacity { get; private set; }

    /// <summary>Number of modalities.</summary>
    public int Modalities => _sizes.Length;

    /// <summary>Modality <paramref name="m"/>'s values of row <paramref name="slot"/>.</summary>
    public Span<float> Row(int m, int slot) => _features[m].AsSpan(slot * _sizes[m], _sizes[m]);

    /// <summary>Every modality's values, <c>[Capacity, size]</c> each (the first rows are the ones read).</summary>
    public float[][] Values => _features;

    /// <summary>Fills every absent modality of the first <paramref name="count"/> rows with NaN (how a model's input marks a missing modality).</summary>
    public void MarkAbsentAsNaN(int count)
    {
        for (int m = 0; m < _sizes.Length; m++)
            for (int r = 0; r < count; r++)
                if (_present[m][r] <= 0) Row(m, r).Fill(float.NaN);
    }

    /// <summary>Whether modality <paramref name="m"/> is present in row <paramref name="slot"/>.</summary>
    public bool IsPresent(int m, int slot) => _present[m][slot] > 0;

    /// <summary>Whether the last <see cref="Read"/> read a modality with non-finite values as missing (the reader's opt-in).</summary>
    public bool LastRowHadNonFinite { get; private set; }

    /// <summary>Reads every modality of the reader's current row into <paramref name="slot"/>; returns whether any is present.</summary>
    public bool Read(RowReader reader, int slot, long label = 0)
    {
        bool any = false;
        LastRowHadNonFinite = false;
        for (int m = 0; m < _sizes.Length; m++)
        {
            bool p = reader.Read(m, Row(m, slot));
            _present[m][slot] = p ? 1f : 0f;
            any |= p;
            LastRowHadNonFinite |= reader.TreatedAsMissing;
        }
        _labels[slot] = label;
        return any;
    }

    /// <summary>Copies row <paramref name="from"/> of <paramref name="source"/> (same modality sizes) into <paramref name="slot"/>.</summary>
    public void CopyRow(BatchBuilder source, int from, int slot)
    {
        for (int m = 0; m < _sizes.Length; m++)
        {
            source.Row(m, from).CopyTo(Row(m, slot));
            _present[m][slot] = source._present[m][from];
        }
        _labels[slot] = source._labels[from];
    }

    /// <summary>Doubles the capacity, keeping the rows written so far.</summary>
    public void Grow()
    {
        Capacity = checked(Capacity * 2);
        for (int m = 0; m < _sizes.Length; m++)
        {
            Array.Resize(ref _features[m], checked(Capacity * _sizes[m]));
            Array.Resize(ref _present[m], Capacity);
        }
        Array.Resize(ref _labels, Capacity);
    }

    /// <summary>The first <paramref name="count"/> rows as a batch (copied: the builder can be refilled at once).</summary>
    /// <param name="count">Rows to take.</param>
    /// <param name="withLabels">Whether to include the labels (training) or not (inference).</param>
    public FusionBatch ToBatch(int count, bool withLabels)
    {
        var f = new Tensor[_sizes.Length];
        var p = new Tensor[_sizes.Length];
        var everywhere = new bool[_sizes.Length];
        for (int m = 0; m < _sizes.Length; m++)
        {
            f[m] = Copy(_features[m], count, _sizes[m]);
            p[m] = tensor(Take(_present[m], count), new long[] { count });
            everywhere[m] = !_present[m].AsSpan(0, count).ContainsAnyExcept(1f);
        }
        return new FusionBatch(f, p, withLabels ? tensor(Take(_labels, count)) : null, count) { PresentInEveryRow = everywhere };
    }

    /// <summary>A <c>[count, size]</c> float tensor of the first rows of a flat array (the array itself when it holds exactly those rows).</summary>
    public static Tensor Copy(float[] rows, int count, int size) => tensor(Take(rows, (long)count * size), new long[] { count, size });

    private static T[] Take<T>(T[] a, long n) => a.LongLength == n ? a : a.AsSpan(0, checked((int)n)).ToArray();
}
