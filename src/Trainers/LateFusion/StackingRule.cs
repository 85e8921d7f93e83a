using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// Stacking: a meta-learner (<see cref="LateFusionOptions.MetaLearner"/>) trained on the out-of-fold member
/// probabilities and presence flags, with as much of the plain average blended into its output as held-out folds support.
/// </summary>
internal sealed class StackingRule : ICombinerRule
{
    /// <summary>
    /// The intermediate columns of the served chain: the plain average's scores and label (when blended in) and the
    /// meta-learner's scores as probabilities. Files record them, so they keep these names.
    /// </summary>
    internal const string AverageScore = "__average.Score", AveragePredictedLabel = "__average.PredictedLabel", MetaScore = "__meta.Score";

    /// <inheritdoc />
    public bool NeedsOutOfFold => true;

    /// <inheritdoc />
    public bool LeavesOutUninformative => false;

    /// <inheritdoc />
    /// <remarks>
    /// The meta-learner is fitted on all out-of-fold rows. For each fold, a meta-learner fitted on the other folds scores
    /// its rows at every blend step, and the most averaged step within one standard error (across folds) of the best is
    /// chosen. With a sampling key each fold holds whole groups, so a meta-learner whose lessons do not carry over to
    /// unseen groups is pulled toward the plain average.
    /// </remarks>
    public CombinerFit Fit(CombinerFitContext context)
    {
        var oof = context.OutOfFold!;
        var o = context.Options;
        int classes = context.Classes;
        var steps = HeldOutShrinkage.Steps;
        var meta = o.MetaLearner!.Fit(MetaView(oof, classes, o));
        double blend = 0;
        var folds = oof.Folds.Distinct().ToList();
        if (folds.Count >= 2)
        {
            var loss = new double[folds.Count, steps.Length];
            int m = o.Members.Count;
            for (int fi = 0; fi < folds.Count; fi++)
            {
                int f = folds[fi];
                var held = Enumerable.Range(0, oof.Labels.Count).Where(r => oof.Folds[r] == f).ToArray();
                var nested = o.MetaLearner!.Fit(MetaView(oof, classes, o, r => oof.Folds[r] != f));
                var scored = nested.Transform(MetaView(oof, classes, o, r => oof.Folds[r] == f));
                int k = 0;
                using (var cursor = scored.GetRowCursor(new[] { scored.Schema["Score"] }))
                {
                    var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
                    VBuffer<float> buf = default;
                    while (cursor.MoveNext())
                    {
                        getter(ref buf);
                        int r = held[k++];
                        var raw = buf.DenseValues().ToArray();
                        var metaP = new float[raw.Length];
                        LateFusionMath.ToProbabilities(raw, metaP);
                        int y = oof.Labels[r];
                        double avg = 0; int present = 0;
                        for (int i = 0; i < m; i++) if (oof.Present[r][i]) { avg += oof.Probabilities[r][i][y]; present++; }
                        avg /= Math.Max(1, present);
                        for (int a = 0; a < steps.Length; a++)
                            loss[fi, a] += -Math.Log(Math.Max(LateFusionMath.Epsilon, (1 - steps[a]) * metaP[y] + steps[a] * avg));
                    }
                }
                for (int a = 0; a < steps.Length; a++) loss[fi, a] /= Math.Max(1, held.Length);
                (nested as IDisposable)?.Dispose();
            }
            blend = steps[HeldOutShrinkage.MostShrunkWithinOneStandardError(loss)];
        }
        context.Channel.Info(MessageSensitivity.None, $"Late fusion stacking: {blend:P0} of the plain average blended into the meta-learner's output, chosen on held-out {context.HeldOut}.");
        return new(null, meta, blend);
    }

    /// <inheritdoc />
    public IEnumerable<ITransformer> CreateTransformers(CombinerFit fit, CombinerColumns c)
    {
        var o = c.Options;
        if (fit.Blend > 0)
            yield return new LateFusionCombinerTransformer(c.Scores, c.Presence, c.Labels, LateFusionCombiner.Average, null, null, AverageScore, AveragePredictedLabel);
        yield return new LateFusionCombinerTransformer(c.Scores, c.Presence, c.Labels, LateFusionCombiner.Stacking, null, o.MetaFeatureColumnName, o.ScoreColumnName, o.PredictedLabelColumnName);
        yield return fit.Meta!;
        yield return new MemberProbabilityTransformer("Score", MetaScore, "meta-learner", c.Classes);
        yield return fit.Blend > 0
            ? new LateFusionCombinerTransformer(new[] { MetaScore, AverageScore }, new string?[2], c.Labels, LateFusionCombiner.WeightedAverage,
                new[] { 1 - fit.Blend, fit.Blend }, null, o.ScoreColumnName, o.PredictedLabelColumnName)
            : new LateFusionCombinerTransformer(new[] { MetaScore }, new string?[1], c.Labels, LateFusionCombiner.Average, null, null,
                o.ScoreColumnName, o.PredictedLabelColumnName);
    }

    /// <summary>The out-of-fold rows <paramref name="include"/> keeps as the meta-learner's training view (no context of its own: the meta-learner is the user's).</summary>
    private static IDataView MetaView(OutOfFoldData oof, int classes, LateFusionOptions o, Func<int, bool>? include = null)
    {
        int m = o.Members.Count, width = m * classes + m;
        var labels = new List<uint>();
        var features = new List<float[]>();
        for (int r = 0; r < oof.Labels.Count; r++)
        {
            if (include != null && !include(r)) continue;
            var f = new float[width];
            LateFusionCombinerTransformer.MetaRow(oof.Probabilities[r], oof.Present[r], classes, f);
            labels.Add((uint)oof.Labels[r] + 1);   // key values are 1-based (0 is missing)
            features.Add(f);
        }
        return new MetaFeatureDataView(o.LabelColumnName, classes, o.MetaFeatureColumnName, width, labels, features);
    }
}

/// <summary>An in-memory view of a key label and a float vector: stacking's meta-features, without an <see cref="MLContext"/> of its own.</summary>
internal sealed class MetaFeatureDataView : IDataView
{
    private readonly IReadOnlyList<uint> _labels;
    private readonly IReadOnlyList<float[]> _features;

    public MetaFeatureDataView(string labelName, int classes, string featuresName, int width, IReadOnlyList<uint> labels, IReadOnlyList<float[]> features)
    {
        var b = new DataViewSchema.Builder();
        b.AddColumn(labelName, new KeyDataViewType(typeof(uint), classes));
        b.AddColumn(featuresName, new VectorDataViewType(NumberDataViewType.Single, width));
        Schema = b.ToSchema();
        _labels = labels; _features = features;
    }

    /// <inheritdoc />
    public bool CanShuffle => false;

    /// <inheritdoc />
    public DataViewSchema Schema { get; }

    /// <inheritdoc />
    public long? GetRowCount() => _labels.Count;

    /// <inheritdoc />
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    /// <inheritdoc />
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor(MetaFeatureDataView parent) : DataViewRowCursor
    {
        private long _position = -1;
        public override DataViewSchema Schema => parent.Schema;
        public override long Position => _position;
        public override long Batch => 0;
        public override bool IsColumnActive(DataViewSchema.Column column) => true;
        public override bool MoveNext() => ++_position < parent._labels.Count;
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index == 0 && typeof(TValue) == typeof(uint))
            {
                ValueGetter<uint> label = (ref uint v) => v = parent._labels[(int)_position];
                return (ValueGetter<TValue>)(Delegate)label;
            }
            if (column.Index == 1 && typeof(TValue) == typeof(VBuffer<float>))
            {
                ValueGetter<VBuffer<float>> features = (ref VBuffer<float> v) =>
                {
                    var src = parent._features[(int)_position];
                    var editor = VBufferEditor.Create(ref v, src.Length);
                    src.CopyTo(editor.Values);
                    v = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)features;
            }
            throw new InvalidOperationException($"Column '{column.Name}' is read as {column.Type.RawType.Name}, not {typeof(TValue).Name}.");
        }
    }
}
