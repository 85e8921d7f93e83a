using Microsoft.ML;
using Microsoft.ML.Data;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

/// <summary>The rows of one data view followed by the rows of another with the same schema (for refitting on training plus validation data).</summary>
internal sealed class AppendedDataView : IDataView
{
    private readonly IDataView _first, _second;

    public AppendedDataView(IDataView first, IDataView second)
    {
        var a = first.Schema; var b = second.Schema;
        for (int i = 0; i < a.Count; i++)
        {
            var other = b.GetColumnOrNull(a[i].Name);
            if (a[i].IsHidden) continue;
            if (other is null || !other.Value.Type.Equals(a[i].Type) || other.Value.Index != i)
                throw new ArgumentException($"The training and validation data have different schemas at column '{a[i].Name}'." + Environment.NewLine +
                    "Hint: load both with the same loader (same columns, types and order).", nameof(second));
        }
        _first = first; _second = second;
    }

    public bool CanShuffle => false;
    public DataViewSchema Schema => _first.Schema;
    public long? GetRowCount() => _first.GetRowCount() + _second.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var cols = columnsNeeded.ToArray();
        return new Cursor(this, _first.GetRowCursor(cols), () => _second.GetRowCursor(cols.Select(c => _second.Schema[c.Index])));
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly AppendedDataView _parent;
        private DataViewRowCursor _current;
        private Func<DataViewRowCursor>? _next;
        private long _position = -1;

        public Cursor(AppendedDataView parent, DataViewRowCursor first, Func<DataViewRowCursor> next) { _parent = parent; _current = first; _next = next; }

        public override DataViewSchema Schema => _parent.Schema;
        public override long Position => _position;
        public override long Batch => 0;
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);
        public override bool IsColumnActive(DataViewSchema.Column column) => _current.IsColumnActive(_current.Schema[column.Index]);

        // Getters read whichever cursor is current, so they stay valid across the switch.
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            ValueGetter<TValue>? inner = null;
            DataViewRowCursor? boundTo = null;
            return (ref TValue value) =>
            {
                if (!ReferenceEquals(boundTo, _current)) { inner = _current.GetGetter<TValue>(_current.Schema[column.Index]); boundTo = _current; }
                inner!(ref value);
            };
        }

        public override bool MoveNext()
        {
            while (true)
            {
                if (_current.MoveNext()) { _position++; return true; }
                if (_next == null) return false;
                _current.Dispose();
                _current = _next();
                _next = null;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _current.Dispose();
            base.Dispose(disposing);
        }
    }
}
