using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Persistence;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// Before a member runs: records whether the member's feature column is present (a vector not all NaN, or a non-empty
/// text) in <c>__present.&lt;member&gt;</c>, and hides a numeric column behind a copy where an all-NaN vector becomes
/// zeros, so that no member ever sees a missing row (its output for such rows is ignored by the combiner).
/// </summary>
internal sealed class MemberInputGuard : BatchMappingTransformer, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.LateFusion.InputGuard";
    private readonly string _column, _presence;

    public MemberInputGuard(string column, string presence) : base(256) { _column = column; _presence = presence; }

    /// <summary>The member's input column.</summary>
    public string Column => _column;

    string IFusionSaveable.ComponentKind => Kind;
    void IFusionSaveable.Save(ComponentWriter writer) => writer.WriteConfig(new[] { _column, _presence });
    internal static MemberInputGuard Load(ComponentReader r)
        => r.ReadConfig<string[]>() is [var column, var presence] ? new(column, presence) : throw r.Invalid("expected two column names");

    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        var col = SchemaErrors.FindColumn(inputSchema, _column);
        if (col.Type is TextDataViewType) return new[] { new OutputColumn(_presence, BooleanDataViewType.Instance) };
        SchemaErrors.RequireFloatVector(inputSchema, _column);
        return new[] { new OutputColumn(_presence, BooleanDataViewType.Instance), new OutputColumn(_column, col.Type, col.Annotations) };
    }

    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity)
        => inputSchema[_column].Type is TextDataViewType ? new TextMapper(_column, capacity) : new Mapper(_column, inputSchema[_column].Type is VectorDataViewType, capacity);

    private sealed class TextMapper : BatchMapper
    {
        private readonly string _column;
        private readonly bool[] _present;
        private ValueGetter<ReadOnlyMemory<char>>? _g;
        private ReadOnlyMemory<char> _text;
        public TextMapper(string column, int capacity) { _column = column; _present = new bool[capacity]; }
        public override IReadOnlyList<string> InputColumns => new[] { _column };
        public override void Bind(DataViewRow input) => _g = input.GetGetter<ReadOnlyMemory<char>>(input.Schema[_column]);
        public override void ReadRow(int slot, long position) { _g!(ref _text); _present[slot] = !_text.Span.IsWhiteSpace(); }
        public override void Compute(int count, bool[] active) { }
        public override Delegate GetOutputGetter(int output, Func<int> slot) => (ValueGetter<bool>)((ref bool dst) => dst = _present[slot()]);
    }

    private sealed class Mapper : BatchMapper
    {
        private readonly string _column;
        private readonly bool _vector;
        private readonly VBuffer<float>[] _values;
        private readonly bool[] _present;
        private ValueGetter<VBuffer<float>>? _vg;
        private ValueGetter<float>? _sg;

        public Mapper(string column, bool vector, int capacity) { _column = column; _vector = vector; _values = new VBuffer<float>[capacity]; _present = new bool[capacity]; }
        public override IReadOnlyList<string> InputColumns => new[] { _column };
        public override void Bind(DataViewRow input)
        {
            if (_vector) _vg = input.GetGetter<VBuffer<float>>(input.Schema[_column]); else _sg = input.GetGetter<float>(input.Schema[_column]);
        }

        public override void ReadRow(int slot, long position)
        {
            if (_vg != null) _vg(ref _values[slot]);
            else { float v = 0; _sg!(ref v); _values[slot] = new VBuffer<float>(1, new[] { v }); }
            var values = _values[slot].GetValues();
            bool allNaN = _values[slot].Length > 0 && values.Length == _values[slot].Length;
            foreach (var v in values) if (!float.IsNaN(v)) { allNaN = false; break; }
            _present[slot] = !allNaN;
            if (allNaN) _values[slot] = new VBuffer<float>(_values[slot].Length, new float[_values[slot].Length]);
        }

        public override void Compute(int count, bool[] active) { }

        public override Delegate GetOutputGetter(int output, Func<int> slot)
        {
            if (output == 0) return (ValueGetter<bool>)((ref bool dst) => dst = _present[slot()]);
            if (_vector) return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) => _values[slot()].CopyTo(ref dst));
            return (ValueGetter<float>)((ref float dst) => dst = _values[slot()].GetItemOrDefault(0));
        }
    }
}

/// <summary>Copies a member's score into <c>Score.&lt;member&gt;</c> as probabilities (see <see cref="LateFusionMath.ToProbabilities"/>).</summary>
internal sealed class MemberScoreCopy : BatchMappingTransformer, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.LateFusion.ScoreCopy";
    private readonly string _score, _output, _member;
    private readonly int _classes;

    public MemberScoreCopy(string score, string output, string member, int classes) : base(256)
    {
        if (classes <= 0) throw new ArgumentOutOfRangeException(nameof(classes), classes, "The class count must be positive.");
        _score = score; _output = output; _member = member; _classes = classes;
    }

    private sealed record Config(string Score, string Output, string Member, int Classes);
    string IFusionSaveable.ComponentKind => Kind;
    void IFusionSaveable.Save(ComponentWriter writer) => writer.WriteConfig(new Config(_score, _output, _member, _classes));
    internal static MemberScoreCopy Load(ComponentReader r) { var c = r.ReadConfig<Config>(); return new(c.Score, c.Output, c.Member, c.Classes); }

    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        var col = inputSchema.GetColumnOrNull(_score);
        if (col is null || col.Value.Type is not VectorDataViewType { ItemType: NumberDataViewType } v || v.Size != _classes)
            throw new InvalidOperationException(
                $"Late-fusion member '{_member}' did not produce a '{_score}' column of {_classes} class scores." + Environment.NewLine +
                "Hint: each member must end with a multiclass trainer (it outputs Score); check the member's pipeline.");
        return new[] { new OutputColumn(_output, new VectorDataViewType(NumberDataViewType.Single, _classes)) };
    }

    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(this, capacity);

    private sealed class Mapper : BatchMapper
    {
        private readonly MemberScoreCopy _p;
        private readonly float[][] _probs;
        private ValueGetter<VBuffer<float>>? _g;
        private VBuffer<float> _buf;
        private readonly float[] _dense;
        public Mapper(MemberScoreCopy p, int capacity) { _p = p; _probs = Enumerable.Range(0, capacity).Select(_ => new float[p._classes]).ToArray(); _dense = new float[p._classes]; }
        public override IReadOnlyList<string> InputColumns => new[] { _p._score };
        public override void Bind(DataViewRow input) => _g = input.GetGetter<VBuffer<float>>(input.Schema[_p._score]);
        public override void ReadRow(int slot, long position)
        {
            _g!(ref _buf);
            _buf.CopyTo(_dense);
            LateFusionMath.ToProbabilities(_dense, _probs[slot]);
        }
        public override void Compute(int count, bool[] active) { }
        public override Delegate GetOutputGetter(int output, Func<int> slot) => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
        {
            var e = VBufferEditor.Create(ref dst, _p._classes);
            _probs[slot()].CopyTo(e.Values);
            dst = e.Commit();
        });
    }
}

/// <summary>
/// Reads every member's probabilities and presence flag and either combines them (<see cref="LateFusionMath.Combine"/>)
/// into <c>Score</c>/<c>PredictedLabel</c>, or, for stacking, lays them out as the meta-learner's features.
/// </summary>
internal sealed class LateFusionCombinerMapper : BatchMappingTransformer, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.LateFusion.Combiner";
    internal readonly string[] Scores, Presence;
    internal readonly LabelKeyValues Labels;
    internal readonly LateFusionCombiner Combiner;
    internal readonly double[]? Weights;
    internal readonly string? MetaFeatures;
    internal readonly string ScoreName, PredictedLabelName;

    public LateFusionCombinerMapper(string[] scores, string[] presence, LabelKeyValues labels, LateFusionCombiner combiner, double[]? weights,
        string? metaFeatures, string scoreName, string predictedLabelName) : base(256)
    {
        Scores = scores; Presence = presence; Labels = labels; Combiner = combiner; Weights = weights; MetaFeatures = metaFeatures;
        ScoreName = scoreName; PredictedLabelName = predictedLabelName;
    }

    private sealed record Config(string[] Scores, string?[] Presence, LabelKeyValuesData Labels, LateFusionCombiner Combiner, double[]? Weights,
        string? MetaFeatures, string ScoreName, string PredictedLabelName);
    string IFusionSaveable.ComponentKind => Kind;
    void IFusionSaveable.Save(ComponentWriter writer)
        => writer.WriteConfig(new Config(Scores, Presence, Labels.ToData(), Combiner, Weights, MetaFeatures, ScoreName, PredictedLabelName));
    internal static LateFusionCombinerMapper Load(ComponentReader r)
    {
        var c = r.ReadConfig<Config>();
        if (c.Scores.Length == 0 || c.Presence.Length != c.Scores.Length || (c.Weights != null && c.Weights.Length != c.Scores.Length))
            throw r.Invalid("its score, presence and weight lists do not match");
        return new(c.Scores, c.Presence!, LabelKeyValues.FromData(c.Labels), c.Combiner, c.Weights, c.MetaFeatures, c.ScoreName, c.PredictedLabelName);
    }

    /// <summary>Meta-features per member: its probabilities (uniform when absent), then one presence flag per member.</summary>
    internal int MetaWidth => Scores.Length * Labels.Count + Scores.Length;

    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        foreach (var c in Scores.Concat(Presence.Where(p => p != null))) SchemaErrors.FindColumn(inputSchema, c);
        if (MetaFeatures != null) return new[] { new OutputColumn(MetaFeatures, new VectorDataViewType(NumberDataViewType.Single, MetaWidth)) };
        return new[]
        {
            new OutputColumn(ScoreName, new VectorDataViewType(NumberDataViewType.Single, Labels.Count), Labels.ScoreAnnotations()),
            new OutputColumn(PredictedLabelName, new KeyDataViewType(typeof(uint), Labels.Count), Labels.KeyAnnotations()),
        };
    }

    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(this, capacity);

    internal static void MetaRow(IReadOnlyList<float[]> probs, IReadOnlyList<bool> present, int classes, Span<float> dst)
    {
        int m = probs.Count;
        for (int i = 0; i < m; i++)
        {
            for (int c = 0; c < classes; c++) dst[i * classes + c] = present[i] ? probs[i][c] : 1f / classes;
            dst[m * classes + i] = present[i] ? 1 : 0;
        }
    }

    private sealed class Mapper : BatchMapper
    {
        private readonly LateFusionCombinerMapper _p;
        private readonly int _k, _m;
        private readonly float[][] _out;
        private readonly ValueGetter<VBuffer<float>>[] _sg;
        private readonly ValueGetter<bool>[] _pg;
        private readonly float[][] _probs;
        private readonly bool[] _present;
        private VBuffer<float> _buf;

        public Mapper(LateFusionCombinerMapper p, int capacity)
        {
            _p = p; _k = p.Labels.Count; _m = p.Scores.Length;
            _out = Enumerable.Range(0, capacity).Select(_ => new float[p.MetaFeatures != null ? p.MetaWidth : _k]).ToArray();
            _sg = new ValueGetter<VBuffer<float>>[_m]; _pg = new ValueGetter<bool>[_m];
            _probs = Enumerable.Range(0, _m).Select(_ => new float[_k]).ToArray();
            _present = new bool[_m];
        }

        public override IReadOnlyList<string> InputColumns => _p.Scores.Concat(_p.Presence.Where(p => p != null)).ToArray();

        public override void Bind(DataViewRow input)
        {
            for (int i = 0; i < _m; i++)
            {
                _sg[i] = input.GetGetter<VBuffer<float>>(input.Schema[_p.Scores[i]]);
                _pg[i] = _p.Presence[i] is { } name ? input.GetGetter<bool>(input.Schema[name]) : (ref bool v) => v = true;
            }
        }

        public override void ReadRow(int slot, long position)
        {
            bool any = false;
            for (int i = 0; i < _m; i++)
            {
                _pg[i](ref _present[i]);
                _sg[i](ref _buf);
                _buf.CopyTo(_probs[i]);
                any |= _present[i];
            }
            if (!any)
                throw new InvalidOperationException(
                    $"Row {position}: no late-fusion member has its input (every member's feature column is all NaN), so there is nothing to predict from." +
                    Environment.NewLine + "Hint: provide at least one modality per row, or filter such rows out before prediction.");
            if (_p.MetaFeatures != null) MetaRow(_probs, _present, _k, _out[slot]);
            else LateFusionMath.Combine(_p.Combiner, _probs, _present, _p.Weights, _out[slot]);
        }

        public override void Compute(int count, bool[] active) { }

        public override Delegate GetOutputGetter(int output, Func<int> slot)
        {
            if (output == 0)
                return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    var row = _out[slot()];
                    var e = VBufferEditor.Create(ref dst, row.Length);
                    row.CopyTo(e.Values);
                    dst = e.Commit();
                });
            return (ValueGetter<uint>)((ref uint dst) =>
            {
                var row = _out[slot()];
                int best = 0;
                for (int c = 1; c < row.Length; c++) if (row[c] > row[best]) best = c;
                dst = (uint)best + 1;
            });
        }
    }
}
