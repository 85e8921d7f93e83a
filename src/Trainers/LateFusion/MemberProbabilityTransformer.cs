using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Onnx;
using MLNetFusion.Persistence;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// Copies a member's score into <c>Score.&lt;member&gt;</c> as probabilities (see <see cref="LateFusionMath.ToProbabilities"/>),
/// tempered by the member's calibration temperature: <c>p_k ∝ p_k^(1/T)</c>.
/// </summary>
internal sealed class MemberProbabilityTransformer : BatchMappingTransformer, IFusionSaveable, IOnnxExportable
{
    internal const string Kind = "MLNetFusion.LateFusion.ScoreCopy";
    private readonly string _score, _output, _member;
    private readonly int _classes;
    private readonly double _temperature;

    public MemberProbabilityTransformer(string score, string output, string member, int classes, double temperature = 1) 
    {
        if (classes <= 0) throw new ArgumentOutOfRangeException(nameof(classes), classes, "The class count must be positive.");
        if (!(temperature > 0) || double.IsInfinity(temperature)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be a finite number above 0.");
        _score = score; _output = output; _member = member; _classes = classes; _temperature = temperature;
    }

    // Files written before temperature scaling have no Temperature: 1 leaves the probabilities as they are.
    private sealed record Config(string Score, string Output, string Member, int Classes, double Temperature = 1);
    string IFusionSaveable.ComponentKind => Kind;
    void IFusionSaveable.Save(ComponentWriter writer) => writer.WriteConfig(new Config(_score, _output, _member, _classes, _temperature));
    internal static MemberProbabilityTransformer Load(ComponentReader r)
    {
        var c = r.ReadConfig<Config>();
        if (!(c.Temperature > 0) || double.IsInfinity(c.Temperature)) throw r.Invalid($"member '{c.Member}' has temperature {c.Temperature}");
        return new(c.Score, c.Output, c.Member, c.Classes, c.Temperature);
    }

    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        var col = inputSchema.GetColumnOrNull(_score);
        if (col is null || col.Value.Type is not VectorDataViewType { ItemType: NumberDataViewType } v || v.Size != _classes)
            throw new InvalidOperationException(
                $"Late-fusion member '{_member}' did not produce a '{_score}' column of {_classes} class scores." + Environment.NewLine +
                "Hint: each member must end with a multiclass trainer (it outputs Score); check the member's pipeline.");
        return new[] { new OutputColumn(_output, new VectorDataViewType(NumberDataViewType.Single, _classes)) };
    }

    /// <summary>In a graph: <see cref="LateFusionMath.ToProbabilities"/> row by row (scores that already are probabilities are renormalised, others go through a softmax), then the temperature.</summary>
    void IOnnxExportable.ExportOnnx(OnnxExportContext context)
    {
        var g = context.Graph;
        var s = context.Read(_score);
        var p = LateFusionMath.ToProbabilitiesOnnx(g, s);
        if (_temperature != 1)
        {
            var positive = g.Node("Greater", new[] { p, g.Scalar(0f) });
            var scaled = g.Where(positive, g.Div(g.Log(g.Max(p, g.Scalar(float.Epsilon))), g.Scalar((float)_temperature)), g.Scalar(-1e30f));
            var e = g.Node("Exp", new[] { g.Sub(scaled, g.Reduce("ReduceMax", scaled, true, 1)) });
            p = g.Div(e, g.ReduceSum(e, true, 1));
        }
        context.Write(_output, p, OnnxElementType.Float, _classes);
    }

    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(this, capacity);

    private sealed class Mapper : BatchMapper
    {
        private readonly MemberProbabilityTransformer _p;
        private readonly float[][] _probs;
        private ValueGetter<VBuffer<float>>? _g;
        private VBuffer<float> _buf;
        private readonly float[] _dense;
        public Mapper(MemberProbabilityTransformer p, int capacity) { _p = p; _probs = Enumerable.Range(0, capacity).Select(_ => new float[p._classes]).ToArray(); _dense = new float[p._classes]; }
        public override IReadOnlyList<string> InputColumns => new[] { _p._score };
        public override void Bind(DataViewRow input) => _g = input.GetGetter<VBuffer<float>>(input.Schema[_p._score]);
        public override void ReadRow(int slot, long position)
        {
            _g!(ref _buf);
            _buf.CopyTo(_dense);
            // Missing modalities never reach a member (MemberInputGuard feeds it zeros and marks the row absent), so a
            // non-finite score is a broken member: an error, never a NaN fused score.
            for (int k = 0; k < _dense.Length; k++)
                if (!float.IsFinite(_dense[k]))
                    throw new InvalidOperationException(
                        $"Row {position}: late-fusion member '{_p._member}' produced a non-finite score ({_dense[k]} for class {k}) in '{_p._score}'." + Environment.NewLine +
                        "Hint: the member's trainer diverged or cannot handle this row's values; fit and check that member alone. " +
                        "(Missing modalities are handled before members run and never produce NaN scores.)");
            LateFusionMath.ToProbabilities(_dense, _probs[slot]);
            if (_p._temperature != 1) LateFusionMath.Temper(_probs[slot], _p._temperature);
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
