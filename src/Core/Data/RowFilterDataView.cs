using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Data;

/// <summary>A view of the rows of <c>input</c> that a predicate keeps (k-fold splits, rows where a modality is present).</summary>
internal sealed class RowFilterDataView : IDataView
{
    private readonly IDataView _input;
    private readonly Func<DataViewRow, Func<bool>> _bind;
    private readonly string[] _needed;

    /// <param name="input">The data.</param>
    /// <param name="needed">Columns the predicate reads.</param>
    /// <param name="bind">Given a cursor, returns a check for its current row.</param>
    public RowFilterDataView(IDataView input, string[] needed, Func<DataViewRow, Func<bool>> bind) { _input = input; _needed = needed; _bind = bind; }

    public bool CanShuffle => false;
    public DataViewSchema Schema => _input.Schema;
    public long? GetRowCount() => null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var cols = columnsNeeded.Select(c => c.Index).Concat(_needed.Select(n => _input.Schema[n].Index)).Distinct().Select(i => _input.Schema[i]);
        return new Cursor(_input.GetRowCursor(cols), _bind);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor _in;
        private readonly Func<bool> _keep;
        private long _position = -1;
        public Cursor(DataViewRowCursor input, Func<DataViewRow, Func<bool>> bind) { _in = input; _keep = bind(input); }
        public override DataViewSchema Schema => _in.Schema;
        public override long Position => _position;
        public override long Batch => 0;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _in.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _in.IsColumnActive(column);
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _in.GetGetter<TValue>(column);
        public override bool MoveNext()
        {
            while (_in.MoveNext()) if (_keep()) { _position++; return true; }
            return false;
        }
        protected override void Dispose(bool disposing) { if (disposing) _in.Dispose(); base.Dispose(disposing); }
    }
}
