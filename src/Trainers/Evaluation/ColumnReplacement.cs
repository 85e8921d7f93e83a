using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Mapping;

namespace MLNetFusion.Trainers.Evaluation;

/// <summary>Writes the value a column should have at a row position.</summary>
internal delegate void ValueAtPosition<T>(long position, ref T value);

/// <summary>
/// Replaces one column by values chosen per row position: all-missing (hiding a modality) or another row's value
/// (permuting it). The column keeps its name, type and annotations, so every downstream transformer reads it as before.
/// </summary>
internal sealed class ColumnReplacement<T> : BatchMappingTransformer
{
    private readonly string _column;
    private readonly ValueAtPosition<T> _valueAt;

    public ColumnReplacement(string column, ValueAtPosition<T> valueAt)  { _column = column; _valueAt = valueAt; }

    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        var col = Data.SchemaErrors.FindColumn(inputSchema, _column);
        if (col.Type.RawType != typeof(T))
            throw Data.SchemaErrors.Mismatch(_column, typeof(T).Name, col.Type, "replace the column with a value of its own type.");
        return new[] { new OutputColumn(_column, col.Type, col.Annotations) };
    }

    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(_valueAt, capacity);

    private sealed class Mapper : BatchMapper
    {
        private readonly ValueAtPosition<T> _valueAt;
        private readonly long[] _positions;
        public Mapper(ValueAtPosition<T> valueAt, int capacity) { _valueAt = valueAt; _positions = new long[capacity]; }
        public override IReadOnlyList<string> InputColumns => Array.Empty<string>();
        public override void Bind(DataViewRow input) { }
        public override void ReadRow(int slot, long position) => _positions[slot] = position;
        public override void Compute(int count, bool[] active) { }
        public override Delegate GetOutputGetter(int output, Func<int> slot)
            => (ValueGetter<T>)((ref T dst) => _valueAt(_positions[slot()], ref dst));
    }
}

/// <summary>Builds the replacements for a modality column of any supported type.</summary>
internal static class ModalityColumn
{
    /// <summary>A transformer hiding <paramref name="column"/>: NaN for numbers and vectors of numbers, empty text.</summary>
    public static ITransformer Hide(DataViewSchema schema, string column)
    {
        var col = Data.SchemaErrors.FindColumn(schema, column);
        switch (col.Type)
        {
            case VectorDataViewType { ItemType: var t } v when t == NumberDataViewType.Single && v.IsKnownSize:
            {
                int size = v.Size;
                return new ColumnReplacement<VBuffer<float>>(column, (long _, ref VBuffer<float> dst) =>
                {
                    var editor = VBufferEditor.Create(ref dst, size);
                    editor.Values.Fill(float.NaN);
                    dst = editor.Commit();
                });
            }
            case var t when t == NumberDataViewType.Single:
                return new ColumnReplacement<float>(column, (long _, ref float dst) => dst = float.NaN);
            case TextDataViewType:
                return new ColumnReplacement<ReadOnlyMemory<char>>(column, (long _, ref ReadOnlyMemory<char> dst) => dst = ReadOnlyMemory<char>.Empty);
            default:
                throw Data.SchemaErrors.Mismatch(column, "Vector<Single> of known size, Single or String (a modality column)", col.Type,
                    "name the featurized modality columns (for example the output of ExtractPixels or MelSpectrogram), or a text or path column, " +
                    "whose missing value (NaN, empty) the model understands as 'this modality is absent'.");
        }
    }

    /// <summary>
    /// Reads <paramref name="column"/> once and returns a maker of transformers that give row <c>p</c> the value the
    /// column has at row <c>permutation[p]</c> (one read, as many shuffles as wanted).
    /// </summary>
    public static Func<int[], ITransformer> Permuter(IDataView data, string column)
    {
        var col = Data.SchemaErrors.FindColumn(data.Schema, column);
        switch (col.Type)
        {
            case VectorDataViewType { ItemType: var t } when t == NumberDataViewType.Single:
            {
                var values = Read<VBuffer<float>>(data, col, (in VBuffer<float> v) => { VBuffer<float> copy = default; v.CopyTo(ref copy); return copy; });
                return perm => new ColumnReplacement<VBuffer<float>>(column, (long p, ref VBuffer<float> dst) => values[perm[p]].CopyTo(ref dst));
            }
            case var t when t == NumberDataViewType.Single:
            {
                var values = Read<float>(data, col, (in float v) => v);
                return perm => new ColumnReplacement<float>(column, (long p, ref float dst) => dst = values[perm[p]]);
            }
            case TextDataViewType:
            {
                var values = Read<ReadOnlyMemory<char>>(data, col, (in ReadOnlyMemory<char> v) => v.ToString().AsMemory());
                return perm => new ColumnReplacement<ReadOnlyMemory<char>>(column, (long p, ref ReadOnlyMemory<char> dst) => dst = values[perm[p]]);
            }
            default:
                Hide(data.Schema, column); // throws the schema error
                throw new InvalidOperationException("unreachable");
        }
    }

    private delegate T Copy<T>(in T value);

    private static List<T> Read<T>(IDataView data, DataViewSchema.Column col, Copy<T> copy)
    {
        var list = new List<T>();
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<T>(col);
        T value = default!;
        while (cursor.MoveNext()) { getter(ref value); list.Add(copy(value)); }
        return list;
    }
}
