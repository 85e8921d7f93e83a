using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Onnx;
using MLNetFusion.Persistence;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// Before a member runs: records whether the member's feature column is present (a vector not all NaN, or a non-empty
/// text) in <c>__present.&lt;member&gt;</c>, and hides a numeric column behind a copy where an all-NaN vector becomes
/// zeros, so that no member ever sees a missing row (its output for such rows is ignored by the combiner).
/// </summary>
internal sealed class MemberInputGuard : BatchMappingTransformer, IFusionSaveable, IOnnxExportable
{
    internal const string Kind = "MLNetFusion.LateFusion.InputGuard";
    private readonly string _column, _presence;

    public MemberInputGuard(string column, string presence)  { _column = column; _presence = presence; }

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

    /// <summary>In a graph: the presence flag (the vector is not entirely NaN) and the vector with an absent row made zeros. A text column cannot be read by a graph.</summary>
    void IOnnxExportable.ExportOnnx(OnnxExportContext context)
    {
        var g = context.Graph;
        var x = context.Read(_column);
        var allNan = g.Reduce("ReduceMin", g.Cast(g.Node("IsNaN", new[] { x }), OnnxElementType.Float), true, 1);          // [B, 1]
        var absent = g.Cast(allNan, OnnxElementType.Bool);
        context.Write(_presence, g.Node("Not", new[] { absent }), OnnxElementType.Bool, 1);
        context.Write(_column, g.Where(absent, g.Scalar(0f), x), OnnxElementType.Float, context.SizeOf(_column));
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
            else
                for (int i = 0; i < values.Length; i++)
                    if (!float.IsFinite(values[i]))
                        throw new InvalidOperationException($"Row {position}: column '{_column}' holds {values[i].ToString(System.Globalization.CultureInfo.InvariantCulture)} (slot {i}); a late-fusion member cannot learn from NaN or infinite features, " +
                            "and only an all-NaN vector means the modality is missing." + Environment.NewLine +
                            "Hint: replace such values before late fusion (ReplaceMissingValues, or clip them), or make the whole vector NaN to mark the modality missing.");
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
