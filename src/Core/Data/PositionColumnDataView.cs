using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Data;

/// <summary>
/// The rows of <c>input</c> with one more column: a float vector per row, by the row's position in <c>input</c> (for
/// example out-of-fold scores computed for every training row). Views stacked on it see the input's positions.
/// </summary>
internal sealed class PositionColumnDataView : IDataView
{
    private readonly IDataView _input;
    private readonly IReadOnlyList<float[]> _values;
    private readonly int _column;

    /// <param name="input">The rows.</param>
    /// <param name="name">The new column's name (it hides an input column of that name).</param>
    /// <param name="width">Its vector size.</param>
    /// <param name="values">One vector of <paramref name="width"/> per input row, in row order.</param>
    public PositionColumnDataView(IDataView input, string name, int width, IReadOnlyList<float[]> values)
    {
        _input = input;
        _values = values;
        var b = new DataViewSchema.Builder();
        b.AddColumns(input.Schema);
        b.AddColumn(name, new VectorDataViewType(NumberDataViewType.Single, width));
        Schema = b.ToSchema();
        _column = Schema.Count - 1;
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema { get; }
    public long? GetRowCount() => _values.Count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Where(c => c.Index != _column).Select(c => _input.Schema[c.Index]).ToList();
        return new Cursor(this, _input.GetRowCursor(needed), columnsNeeded.Any(c => c.Index == _column));
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor(PositionColumnDataView parent, DataViewRowCursor input, bool active) : DataViewRowCursor
    {
        public override DataViewSchema Schema => parent.Schema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => column.Index == parent._column ? active : input.IsColumnActive(input.Schema[column.Index]);
        public override bool MoveNext()
        {
            if (!input.MoveNext()) return false;
            if (input.Position >= parent._values.Count)
                throw new InvalidOperationException($"Row {input.Position} has no value for column '{parent.Schema[parent._column].Name}', which holds {parent._values.Count} rows." +
                    Environment.NewLine + "Hint: the values must be computed from the same rows as the data view they are appended to.");
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != parent._column) return input.GetGetter<TValue>(input.Schema[column.Index]);
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' is read as VBuffer<Single>, not {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> v) =>
            {
                var src = parent._values[(int)input.Position];
                var editor = VBufferEditor.Create(ref v, src.Length);
                src.CopyTo(editor.Values);
                v = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        protected override void Dispose(bool disposing) { if (disposing) input.Dispose(); base.Dispose(disposing); }
    }
}
