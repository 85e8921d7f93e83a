using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Onnx;
using MLNetFusion.Persistence;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// Reads every member's probabilities and presence flag and either combines them (<see cref="LateFusionMath.Combine"/>)
/// into <c>Score</c>/<c>PredictedLabel</c>, or, for stacking, lays them out as the meta-learner's features.
/// </summary>
internal sealed class LateFusionCombinerTransformer : BatchMappingTransformer, IFusionSaveable, IOnnxExportable
{
    internal const string Kind = "MLNetFusion.LateFusion.Combiner";
    internal readonly string[] Scores;
    /// <summary>Per member, its presence column, or <c>null</c> for a member present in every row.</summary>
    internal readonly string?[] Presence;
    internal readonly LabelKeyValues Labels;
    internal readonly LateFusionCombiner Combiner;
    internal readonly double[]? Weights;
    internal readonly string? MetaFeatures;
    internal readonly string ScoreName, PredictedLabelName;
    private ProbabilityCombiner? _rule;

    /// <summary>The name of a registered rule of the application's own that combines instead of <see cref="Combiner"/>, or <c>null</c>.</summary>
    internal readonly string? RegisteredRule;

    /// <summary>The combining rule (not for stacking's meta-features), its CPU and ONNX arithmetic side by side.</summary>
    internal ProbabilityCombiner Rule => _rule ??= RegisteredRule != null ? ProbabilityCombiner.Registered(RegisteredRule, Weights) : ProbabilityCombiner.For(Combiner, Weights);

    public LateFusionCombinerTransformer(string[] scores, string?[] presence, LabelKeyValues labels, LateFusionCombiner combiner, double[]? weights,
        string? metaFeatures, string scoreName, string predictedLabelName, string? registeredRule = null)
    {
        Scores = scores; Presence = presence; Labels = labels; Combiner = combiner; Weights = weights; MetaFeatures = metaFeatures;
        ScoreName = scoreName; PredictedLabelName = predictedLabelName; RegisteredRule = registeredRule;
    }

    private sealed record Config(string[] Scores, string?[] Presence, LabelKeyValuesData Labels, LateFusionCombiner Combiner, double[]? Weights,
        string? MetaFeatures, string ScoreName, string PredictedLabelName, string? RegisteredRule = null);
    string IFusionSaveable.ComponentKind => Kind;
    void IFusionSaveable.Save(ComponentWriter writer)
        => writer.WriteConfig(new Config(Scores, Presence, Labels.ToData(), Combiner, Weights, MetaFeatures, ScoreName, PredictedLabelName, RegisteredRule));
    internal static LateFusionCombinerTransformer Load(ComponentReader r)
    {
        var c = r.ReadConfig<Config>();
        if (c.Scores.Length == 0 || c.Presence.Length != c.Scores.Length || (c.Weights != null && c.Weights.Length != c.Scores.Length))
            throw r.Invalid("its score, presence and weight lists do not match");
        if (c.RegisteredRule != null && !ProbabilityCombiner.IsRegistered(c.RegisteredRule))
            throw new FusionModelFormatException($"The model combines its late-fusion members with the rule '{c.RegisteredRule}', which this process has not registered." + Environment.NewLine +
                "Hint: call ProbabilityCombiner.Register with that rule before loading the model, as the process that trained it did.");
        return new(c.Scores, c.Presence, LabelKeyValues.FromData(c.Labels), c.Combiner, c.Weights, c.MetaFeatures, c.ScoreName, c.PredictedLabelName, c.RegisteredRule);
    }

    /// <summary>Meta-features per member: its probabilities (uniform when absent), then one presence flag per member.</summary>
    internal int MetaWidth => Scores.Length * Labels.Count + Scores.Length;

    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        foreach (var c in Scores.Concat(Presence.OfType<string>())) SchemaErrors.FindColumn(inputSchema, c);
        if (MetaFeatures != null) return new[] { new OutputColumn(MetaFeatures, new VectorDataViewType(NumberDataViewType.Single, MetaWidth)) };
        return new[]
        {
            new OutputColumn(ScoreName, new VectorDataViewType(NumberDataViewType.Single, Labels.Count), Labels.ScoreAnnotations()),
            new OutputColumn(PredictedLabelName, new KeyDataViewType(typeof(uint), Labels.Count), Labels.KeyAnnotations()),
        };
    }

    /// <summary>
    /// In a graph: <see cref="Rule"/> (or stacking's meta-features, <see cref="MetaRow"/>) over the members
    /// present in each row, with the same mask of left-out members; a row with no member present gets NaN scores.
    /// </summary>
    void IOnnxExportable.ExportOnnx(OnnxExportContext context)
    {
        var g = context.Graph;
        int k = Labels.Count;
        var p = Scores.Select(context.Read).ToArray();                                                              // [B, K]
        var present = Presence.Select((name, i) => name is null ? ProbabilityCombiner.AlwaysPresent(g, p[i])
            : g.Cast(context.Read(name), OnnxElementType.Float)).ToArray();                                          // [B, 1], 1 = present
        var anyPresent = present.Aggregate(g.Add);
        if (MetaFeatures != null)
        {
            var parts = p.Select((pi, i) => g.Where(g.Cast(present[i], OnnxElementType.Bool), pi, g.Scalar(1f / k))).Concat(present).ToArray();
            context.Write(MetaFeatures, g.Concat(1, parts), OnnxElementType.Float, MetaWidth);
            return;
        }
        var score = Rule.ExportOnnx(g, p, present, k);
        score = g.Where(g.Node("Equal", new[] { anyPresent, g.Scalar(0f) }), g.Scalar(float.NaN), score);
        context.Write(ScoreName, score, OnnxElementType.Float, k);
        context.MarkOutput(ScoreName);
        context.Write(PredictedLabelName, g.PredictedKey(score), OnnxElementType.UInt32, 1);
        context.MarkOutput(PredictedLabelName);
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
        private readonly LateFusionCombinerTransformer _p;
        private readonly int _k, _m;
        private readonly float[][] _out;
        private readonly ValueGetter<VBuffer<float>>[] _sg;
        private readonly ValueGetter<bool>[] _pg;
        private readonly float[][] _probs;
        private readonly bool[] _present;
        private VBuffer<float> _buf;

        public Mapper(LateFusionCombinerTransformer p, int capacity)
        {
            _p = p; _k = p.Labels.Count; _m = p.Scores.Length;
            _out = Enumerable.Range(0, capacity).Select(_ => new float[p.MetaFeatures != null ? p.MetaWidth : _k]).ToArray();
            _sg = new ValueGetter<VBuffer<float>>[_m]; _pg = new ValueGetter<bool>[_m];
            _probs = Enumerable.Range(0, _m).Select(_ => new float[_k]).ToArray();
            _present = new bool[_m];
        }

        public override IReadOnlyList<string> InputColumns => _p.Scores.Concat(_p.Presence.OfType<string>()).ToArray();

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
            else _p.Rule.Combine(_probs, _present, _out[slot]);
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
