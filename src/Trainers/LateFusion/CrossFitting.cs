using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetFusion.Data;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// Every training row's member probabilities, each from members fitted without that row's fold: what late fusion's
/// fitted combiners, its temperature scaling and its check for uninformative members learn from.
/// </summary>
/// <param name="Probabilities">Per row, each member's class probabilities.</param>
/// <param name="Present">Per row, whether each member had its input.</param>
/// <param name="Labels">Per row, the 0-based class.</param>
/// <param name="Folds">Per row, the fold it was held out in.</param>
internal sealed record OutOfFoldData(List<float[][]> Probabilities, List<bool[]> Present, List<int> Labels, List<int> Folds);

/// <summary>k-fold cross-fitting of late fusion's members (whole groups per fold with a sampling key).</summary>
internal static class CrossFitting
{
    /// <summary>
    /// Fits the members on k-1 folds with <paramref name="fitMembers"/> and scores the held-out fold with
    /// <paramref name="scoreMembers"/>, so every row's probabilities come from members that never saw its label.
    /// </summary>
    public static OutOfFoldData Run(IDataView input, LateFusionOptions options, int seed, IChannel channel,
        Func<IDataView, int, List<ITransformer>> fitMembers, Func<IDataView, IReadOnlyList<ITransformer>, IDataView> scoreMembers)
    {
        int k = options.NumberOfFolds;
        Func<long, int> foldOf = pos => (int)(SeededShuffle.Hash(pos, seed) * k);
        if (options.SamplingKeyColumnName != null)
        {
            var groups = SamplingKeyGroups.Read(input, options.SamplingKeyColumnName);
            groups.RequireSeveralGroups();
            if (groups.Count < k)
            {
                // Fewer groups than folds (a leaderboard's fit without one of three speakers): each group is a fold.
                channel.Info(MessageSensitivity.None, $"Late fusion: {k} folds were asked for, but '{options.SamplingKeyColumnName}' has {groups.Count} groups in these rows: each group is one fold.");
                k = groups.Count;
            }
            var foldOfGroup = groups.FoldOfGroup(k, seed);
            foldOf = pos => groups.FoldOfRow(pos, foldOfGroup);
            channel.Info(MessageSensitivity.None, $"Late fusion: {k} out-of-fold folds by '{options.SamplingKeyColumnName}': " +
                string.Join("; ", Enumerable.Range(0, k).Select(f => string.Join(", ", Enumerable.Range(0, groups.Count).Where(g => foldOfGroup[g] == f).Select(g => groups.GroupNames[g])))));
        }
        var result = new OutOfFoldData(new(), new(), new(), new());
        for (int fold = 0; fold < k; fold++)
        {
            int f = fold;
            Func<DataViewRow, Func<bool>> inFold(bool held) => row => () => foldOf(row.Position) == f == held;
            var train = new RowFilterDataView(input, Array.Empty<string>(), inFold(false));
            var test = new RowFilterDataView(input, Array.Empty<string>(), inFold(true));
            var members = fitMembers(train, f + 1);
            var scored = scoreMembers(test, members);
            var cols = options.Members.SelectMany(m => new[] { LateFusionTrainer.MemberScoreColumn(m), LateFusionTrainer.PresenceColumn(m) })
                .Append(options.LabelColumnName).Select(c => scored.Schema[c]);
            using (var cursor = scored.GetRowCursor(cols))
            {
                var sg = options.Members.Select(m => cursor.GetGetter<VBuffer<float>>(scored.Schema[LateFusionTrainer.MemberScoreColumn(m)])).ToArray();
                var pg = options.Members.Select(m => cursor.GetGetter<bool>(scored.Schema[LateFusionTrainer.PresenceColumn(m)])).ToArray();
                var lg = cursor.GetGetter<uint>(scored.Schema[options.LabelColumnName]);
                VBuffer<float> buf = default;
                while (cursor.MoveNext())
                {
                    uint key = 0; lg(ref key);
                    if (key == 0) continue;
                    var probs = new float[sg.Length][];
                    var pres = new bool[sg.Length];
                    for (int i = 0; i < sg.Length; i++) { sg[i](ref buf); probs[i] = buf.DenseValues().ToArray(); pg[i](ref pres[i]); }
                    if (!pres.Any(p => p)) continue;
                    result.Probabilities.Add(probs); result.Present.Add(pres); result.Labels.Add((int)key - 1); result.Folds.Add(f);
                }
            }
            foreach (var t in members) (t as IDisposable)?.Dispose();
        }
        return result;
    }

    /// <summary>
    /// Whether each member carries signal out of fold, on the rows it is present: its log-loss beats the class prior's by
    /// at least 0.005 nats, or its accuracy beats always answering the most frequent class by more than two standard
    /// errors (an accurate member that is over-confident, such as a network trained for few epochs, has a poor log-loss
    /// and is still informative). The best member is always informative, so at least one is kept.
    /// </summary>
    public static bool[] Informative(OutOfFoldData oof, int classes)
    {
        int m = oof.Probabilities.Count == 0 ? 0 : oof.Probabilities[0].Length;
        var result = new bool[m];
        var gain = new double[m];
        for (int i = 0; i < m; i++)
        {
            var rows = Enumerable.Range(0, oof.Labels.Count).Where(r => oof.Present[r][i]).ToArray();
            if (rows.Length == 0) { gain[i] = double.NegativeInfinity; continue; }
            var counts = new double[classes];
            foreach (int r in rows) counts[oof.Labels[r]]++;
            double prior = -rows.Average(r => Math.Log(Math.Max(counts[oof.Labels[r]] / rows.Length, LateFusionMath.Epsilon)));
            double member = -rows.Average(r => Math.Log(Math.Max(oof.Probabilities[r][i][oof.Labels[r]], LateFusionMath.Epsilon)));
            double majority = counts.Max() / rows.Length;
            double accuracy = rows.Count(r => ArgMax(oof.Probabilities[r][i]) == oof.Labels[r]) / (double)rows.Length;
            double standardError = Math.Sqrt(majority * (1 - majority) / rows.Length);
            gain[i] = prior - member;
            result[i] = gain[i] > 0.005 || accuracy > majority + 2 * standardError;
        }
        if (m > 0 && !result.Any(x => x)) result[Array.IndexOf(gain, gain.Max())] = true;
        return result;
    }

    private static int ArgMax(float[] p) { int best = 0; for (int k = 1; k < p.Length; k++) if (p[k] > p[best]) best = k; return best; }
}

/// <summary>
/// How far a fitted combination departs from the plain average: a shrinkage step chosen on held-out folds by the
/// one-standard-error rule (fitted weights and stacking's blend both use it).
/// </summary>
internal static class HeldOutShrinkage
{
    /// <summary>Shrinkage steps tried toward the plain average (0: the fitted combination, 1: the average).</summary>
    public static readonly double[] Steps = { 0, 0.25, 0.5, 0.75, 1 };

    /// <summary>
    /// The one-standard-error rule (as glmnet's <c>lambda.1se</c>) over held-out folds: the step with the lowest mean
    /// per-fold log-loss is the best; the chosen step is the most shrunk one whose mean excess loss over the best, across
    /// folds, is within one standard error of that excess. A fitted combination therefore departs from the plain average
    /// only as far as every held-out fold (every held-out group, with a sampling key) consistently supports.
    /// </summary>
    /// <param name="loss">Mean log-loss per fold (rows) and shrinkage step (columns, in <see cref="Steps"/> order).</param>
    public static int MostShrunkWithinOneStandardError(double[,] loss)
    {
        int folds = loss.GetLength(0), steps = loss.GetLength(1);
        double Mean(int a) { double s = 0; for (int f = 0; f < folds; f++) s += loss[f, a]; return s / folds; }
        int best = 0;
        for (int a = 1; a < steps; a++) if (Mean(a) <= Mean(best) + 1e-12) best = a;
        for (int a = steps - 1; a > best; a--)
        {
            var excess = Enumerable.Range(0, folds).Select(f => loss[f, a] - loss[f, best]).ToArray();
            double mean = excess.Average();
            double sd = folds > 1 ? Math.Sqrt(excess.Sum(e => (e - mean) * (e - mean)) / (folds - 1)) : 0;
            if (mean <= sd / Math.Sqrt(folds)) return a;
        }
        return best;
    }
}
