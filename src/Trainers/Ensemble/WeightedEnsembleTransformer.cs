using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Persistence;
using MLNetFusion.Trainers.LateFusion;

namespace MLNetFusion.Trainers.Ensemble;

/// <summary>
/// A weighted ensemble of fitted multiclass models (any ML.NET or MLNetFusion chain that outputs class probabilities
/// in a <c>Score</c> column): each member scores the same input rows, and <c>Score</c> is the weighted average of
/// their probabilities, <c>PredictedLabel</c> its most probable class. Built by ensemble selection
/// (<see cref="EnsembleSelection"/>) over a leaderboard's candidates; saved and loaded as one model file with
/// <c>mlContext.Model.SaveFusionModel</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>What every member reads (each member sees the input rows unchanged, never another member's columns).</description></item>
/// <item><term>Output</term><description>The input columns, <c>Score</c> (probabilities in the label's key order) and <c>PredictedLabel</c> (a key with the label's values).</description></item>
/// <item><term>Members</term><description><see cref="MemberNames"/> and <see cref="Weights"/> (summing to 1); members with weight 0 are not kept.</description></item>
/// </list>
/// </remarks>
public sealed class WeightedEnsembleTransformer : ITransformer, IDisposable, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.Ensemble.Weighted";
    private readonly ITransformer[] _members;
    private readonly double[] _weights;
    private readonly ProbabilityCombiner _rule;
    private readonly bool[] _allPresent;

    /// <summary>Creates the ensemble.</summary>
    /// <param name="members">Fitted models; each outputs <c>Score</c> with one probability per class.</param>
    /// <param name="names">A name per member (reported, and saved).</param>
    /// <param name="weights">A non-negative weight per member; normalised to sum to 1.</param>
    /// <param name="labels">The label's key values (the classes of every member's <c>Score</c>, in order).</param>
    public WeightedEnsembleTransformer(IReadOnlyList<ITransformer> members, IReadOnlyList<string> names, IReadOnlyList<double> weights, LabelKeyValues labels)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(labels);
        if (members.Count == 0) throw new ArgumentException("An ensemble needs at least one member." + Environment.NewLine + "Hint: give every member a positive weight.", nameof(members));
        if (names.Count != members.Count || weights.Count != members.Count)
            throw new ArgumentException($"{members.Count} members, {names.Count} names and {weights.Count} weights: they must match." + Environment.NewLine + "Hint: one name and one weight per member.", nameof(weights));
        if (weights.Any(w => !double.IsFinite(w) || w < 0) || !(weights.Sum() > 0))
            throw new ArgumentOutOfRangeException(nameof(weights), "Ensemble weights must be finite, non-negative and not all 0." + Environment.NewLine + "Hint: use the weights EnsembleSelection returns.");
        double total = weights.Sum();
        _members = members.ToArray();
        _weights = weights.Select(w => w / total).ToArray();
        MemberNames = names.ToArray();
        Labels = labels;
        _rule = ProbabilityCombiner.WeightedAverage(_weights);
        _allPresent = Enumerable.Repeat(true, _members.Length).ToArray();
    }

    /// <summary>The members' names, in order.</summary>
    public IReadOnlyList<string> MemberNames { get; }

    /// <summary>Each member's weight (they sum to 1).</summary>
    public IReadOnlyList<double> Weights => _weights;

    /// <summary>The fitted members.</summary>
    public IReadOnlyList<ITransformer> Members => _members;

    /// <summary>The classes of <c>Score</c>.</summary>
    public LabelKeyValues Labels { get; }

    /// <summary>Output column names.</summary>
    public const string ScoreColumnName = "Score", PredictedLabelColumnName = "PredictedLabel";

    /// <inheritdoc />
    public bool IsRowToRowMapper => _members.All(m => m.IsRowToRowMapper);

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        for (int i = 0; i < _members.Length; i++)
        {
            var score = _members[i].GetOutputSchema(inputSchema).GetColumnOrNull(ScoreColumnName);
            if (score?.Type is not VectorDataViewType { ItemType: NumberDataViewType n, Size: var size } || n.RawType != typeof(float) || size != Labels.Count)
                throw new InvalidOperationException($"Ensemble member '{MemberNames[i]}' does not output '{ScoreColumnName}' as Vector<Single, {Labels.Count}> (it gives {score?.Type.ToString() ?? "no such column"})." +
                    Environment.NewLine + "Hint: every member must be a multiclass model over the same label.");
        }
        var b = new DataViewSchema.Builder();
        b.AddColumns(inputSchema);
        b.AddColumn(ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, Labels.Count), Labels.ScoreAnnotations());
        b.AddColumn(PredictedLabelColumnName, new KeyDataViewType(typeof(uint), Labels.Count), Labels.KeyAnnotations());
        return b.ToSchema();
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var schema = GetOutputSchema(input.Schema);
        return new EnsembleDataView(this, input, _members.Select(m => m.Transform(input)).ToArray(), schema);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        if (!IsRowToRowMapper) throw new InvalidOperationException("An ensemble member is not a row-to-row mapper, so the ensemble cannot serve single rows." + Environment.NewLine + "Hint: use Transform on a data view.");
        return new Mapper(this, inputSchema, GetOutputSchema(inputSchema), _members.Select(m => m.GetRowToRowMapper(inputSchema)).ToArray());
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException(
        "WeightedEnsembleTransformer cannot be saved with mlContext.Model.Save: ML.NET (5 and 6) does not let third-party transformers write to its model format." +
        Environment.NewLine + "Hint: save the pipeline with mlContext.Model.SaveFusionModel and load it with mlContext.Model.LoadFusionModel.");

    string IFusionSaveable.ComponentKind => Kind;

    // Layout: config.json {MemberNames, Weights, Labels}; one child component per member, in order.
    void IFusionSaveable.Save(ComponentWriter writer)
    {
        writer.WriteConfig(new EnsembleConfig(MemberNames.ToArray(), _weights.ToArray(), Labels.ToData()));
        foreach (var m in _members) writer.WriteChild(m);
    }

    internal static WeightedEnsembleTransformer Load(ComponentReader reader)
    {
        var c = reader.ReadConfig<EnsembleConfig>();
        if (c.MemberNames.Length != reader.ChildCount || c.Weights.Length != reader.ChildCount || reader.ChildCount == 0)
            throw reader.Invalid("its member names and weights do not match its members");
        if (c.Weights.Any(w => !double.IsFinite(w) || w < 0)) throw reader.Invalid("a member weight is negative or not finite");
        var members = Enumerable.Range(0, reader.ChildCount).Select(reader.ReadChild).ToArray();
        return new WeightedEnsembleTransformer(members, c.MemberNames, c.Weights, LabelKeyValues.FromData(c.Labels));
    }

    /// <summary>Disposes the members.</summary>
    public void Dispose()
    {
        foreach (var m in _members) (m as IDisposable)?.Dispose();
    }

    /// <summary>
    /// The weighted average of the members' probabilities (each renormalised to a distribution), by
    /// <see cref="ProbabilityCombiner.WeightedAverage"/>. <paramref name="scores"/> (the caller's per-cursor buffers,
    /// refilled every row) become the probabilities in place: nothing is allocated per row.
    /// </summary>
    private void Combine(float[][] scores, Span<float> result)
    {
        foreach (var s in scores) LateFusionMath.ToProbabilities(s, s);
        _rule.Combine(scores, _allPresent, result);
    }

    /// <summary>The getter of <c>Score</c> (<paramref name="score"/>) or <c>PredictedLabel</c>, shared by the cursor and the single-row mapper.</summary>
    private static ValueGetter<TValue> OutputGetter<TValue>(bool score, Action compute, float[] combined)
        => score
            ? (ValueGetter<TValue>)(Delegate)(ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                compute();
                var e = VBufferEditor.Create(ref dst, combined.Length);
                combined.CopyTo(e.Values);
                dst = e.Commit();
            })
            : (ValueGetter<TValue>)(Delegate)(ValueGetter<uint>)((ref uint dst) => { compute(); dst = ArgMax(combined); });

    private static uint ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int k = 1; k < v.Length; k++) if (v[k] > v[best]) best = k;
        return (uint)best + 1;
    }

    /// <summary>The input rows with the ensemble's columns: member cursors advance in lock-step with the input's.</summary>
    private sealed class EnsembleDataView(WeightedEnsembleTransformer parent, IDataView input, IDataView[] scored, DataViewSchema schema) : IDataView
    {
        public bool CanShuffle => false;
        public DataViewSchema Schema => schema;
        public long? GetRowCount() => input.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var needed = columnsNeeded.ToList();
            int inputCount = input.Schema.Count;
            var inputColumns = needed.Where(c => c.Index < inputCount).Select(c => input.Schema[c.Index]).ToList();
            bool scores = needed.Any(c => c.Index >= inputCount);
            var cursor = input.GetRowCursor(inputColumns);
            var members = scores ? scored.Select(s => s.GetRowCursor(new[] { s.Schema[ScoreColumnName] })).ToArray() : Array.Empty<DataViewRowCursor>();
            return new Cursor(parent, schema, cursor, members, inputCount);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
            => new[] { GetRowCursor(columnsNeeded, rand) };
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly WeightedEnsembleTransformer _p;
        private readonly DataViewSchema _schema;
        private readonly DataViewRowCursor _input;
        private readonly DataViewRowCursor[] _members;
        private readonly ValueGetter<VBuffer<float>>[] _getters;
        private readonly int _inputCount;
        private readonly float[][] _scores;
        private readonly float[] _combined;
        private VBuffer<float> _buffer;
        private long _computed = -1;

        public Cursor(WeightedEnsembleTransformer p, DataViewSchema schema, DataViewRowCursor input, DataViewRowCursor[] members, int inputCount)
        {
            _p = p; _schema = schema; _input = input; _members = members; _inputCount = inputCount;
            _getters = members.Select(m => m.GetGetter<VBuffer<float>>(m.Schema[ScoreColumnName])).ToArray();
            _scores = members.Select(_ => new float[p.Labels.Count]).ToArray();
            _combined = new float[p.Labels.Count];
        }

        public override DataViewSchema Schema => _schema;
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => column.Index >= _inputCount ? _members.Length > 0 : _input.IsColumnActive(_input.Schema[column.Index]);

        public override bool MoveNext()
        {
            bool more = _input.MoveNext();
            foreach (var m in _members)
                if (m.MoveNext() != more)
                    throw new InvalidOperationException("An ensemble member returned a different number of rows than its input." + Environment.NewLine +
                        "Hint: ensemble members must keep every row (no row filters inside a member).");
            return more;
        }

        private void Compute()
        {
            if (_computed == _input.Position) return;
            for (int i = 0; i < _getters.Length; i++) { _getters[i](ref _buffer); _buffer.CopyTo(_scores[i]); }
            _p.Combine(_scores, _combined);
            _computed = _input.Position;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            => column.Index < _inputCount ? _input.GetGetter<TValue>(_input.Schema[column.Index]) : OutputGetter<TValue>(column.Index == _inputCount, Compute, _combined);

        protected override void Dispose(bool disposing)
        {
            if (disposing) { _input.Dispose(); foreach (var m in _members) m.Dispose(); }
            base.Dispose(disposing);
        }
    }

    /// <summary>Single rows (a PredictionEngine): each member's row mapper scores the same input row.</summary>
    private sealed class Mapper(WeightedEnsembleTransformer p, DataViewSchema input, DataViewSchema output, IRowToRowMapper[] members) : IRowToRowMapper
    {
        public DataViewSchema InputSchema => input;
        public DataViewSchema OutputSchema => output;

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
        {
            var list = dependingColumns.ToList();
            var needed = new HashSet<int>(list.Where(c => c.Index < input.Count).Select(c => c.Index));
            if (list.Any(c => c.Index >= input.Count))
                foreach (var m in members)
                    foreach (var c in m.GetDependencies(new[] { m.OutputSchema[ScoreColumnName] })) needed.Add(c.Index);
            return needed.OrderBy(i => i).Select(i => input[i]);
        }

        public DataViewRow GetRow(DataViewRow inputRow, IEnumerable<DataViewSchema.Column> activeColumns)
        {
            var active = activeColumns.ToList();
            bool scores = active.Any(c => c.Index >= input.Count);
            var rows = scores ? members.Select(m => m.GetRow(inputRow, new[] { m.OutputSchema[ScoreColumnName] })).ToArray() : Array.Empty<DataViewRow>();
            return new Row(p, output, inputRow, rows, input.Count, active);
        }
    }

    private sealed class Row : DataViewRow
    {
        private readonly WeightedEnsembleTransformer _p;
        private readonly DataViewSchema _schema;
        private readonly DataViewRow _input;
        private readonly DataViewRow[] _members;
        private readonly ValueGetter<VBuffer<float>>[] _getters;
        private readonly int _inputCount;
        private readonly HashSet<int> _active;
        private readonly float[][] _scores;
        private readonly float[] _combined;
        private VBuffer<float> _buffer;

        public Row(WeightedEnsembleTransformer p, DataViewSchema schema, DataViewRow input, DataViewRow[] members, int inputCount, List<DataViewSchema.Column> active)
        {
            _p = p; _schema = schema; _input = input; _members = members; _inputCount = inputCount;
            _active = new HashSet<int>(active.Select(c => c.Index));
            _getters = members.Select(m => m.GetGetter<VBuffer<float>>(m.Schema[ScoreColumnName])).ToArray();
            _scores = members.Select(_ => new float[p.Labels.Count]).ToArray();
            _combined = new float[p.Labels.Count];
        }

        public override DataViewSchema Schema => _schema;
        public override long Position => _input.Position;
        public override long Batch => _input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index) || (column.Index < _inputCount && _input.IsColumnActive(_input.Schema[column.Index]));

        private void Compute()
        {
            // A PredictionEngine reuses the row for every prediction at position -1: recompute on every read of a new row.
            for (int i = 0; i < _getters.Length; i++) { _getters[i](ref _buffer); _buffer.CopyTo(_scores[i]); }
            _p.Combine(_scores, _combined);
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            => column.Index < _inputCount ? _input.GetGetter<TValue>(_input.Schema[column.Index]) : OutputGetter<TValue>(column.Index == _inputCount, Compute, _combined);

        protected override void Dispose(bool disposing)
        {
            if (disposing) foreach (var m in _members) m.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>The saved configuration of a <see cref="WeightedEnsembleTransformer"/>; its members are the component's children.</summary>
internal sealed record EnsembleConfig(string[] MemberNames, double[] Weights, LabelKeyValuesData Labels);
