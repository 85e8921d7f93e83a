using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;

namespace MLNetFusion.Trainers.Evaluation;

/// <summary>
/// The scores and labels of one scoring pass, read in one cursor, and the metrics computed from them with ML.NET's
/// definitions (so a subset of rows, such as one group, is evaluated without another pass).
/// </summary>
internal sealed class ScoredRows
{
    public const double LogLossEpsilon = 1e-15;   // ML.NET's MulticlassClassificationEvaluator clips at this probability

    private ScoredRows(float[][] scores, int[] labels, int classes) { Scores = scores; Labels = labels; Classes = classes; }

    /// <summary>Score vector per row (by row position).</summary>
    public float[][] Scores { get; }
    /// <summary>0-based label per row; -1 when missing.</summary>
    public int[] Labels { get; }
    /// <summary>Number of classes (the score vector's length).</summary>
    public int Classes { get; }

    /// <summary>Reads <paramref name="scoreColumn"/> and the key <paramref name="labelColumn"/> of every row.</summary>
    public static ScoredRows Read(IDataView scored, string labelColumn, string scoreColumn)
    {
        var label = SchemaErrors.FindColumn(scored.Schema, labelColumn, $"the label column '{labelColumn}' must reach the model's output; pass labelColumnName if it has another name.");
        if (label.Type is not KeyDataViewType { RawType: var raw } || raw != typeof(uint))
            throw SchemaErrors.Mismatch(labelColumn, "Key<UInt32>", label.Type, $"map the label to a key before evaluating: mlContext.Transforms.Conversion.MapValueToKey(\"{labelColumn}\").");
        var score = SchemaErrors.FindColumn(scored.Schema, scoreColumn, $"the model must output the score column '{scoreColumn}'; pass scoreColumnName if it has another name.");
        if (score.Type is not VectorDataViewType { ItemType: var item, IsKnownSize: true } sv || item != NumberDataViewType.Single)
            throw SchemaErrors.Mismatch(scoreColumn, "Vector<Single> of known size", score.Type, "pass the multiclass score column of the model.");
        var scores = new List<float[]>();
        var labels = new List<int>();
        using (var cursor = scored.GetRowCursor(new[] { label, score }))
        {
            var lg = cursor.GetGetter<uint>(label);
            var sg = cursor.GetGetter<VBuffer<float>>(score);
            uint key = 0; VBuffer<float> buf = default;
            while (cursor.MoveNext())
            {
                lg(ref key); sg(ref buf);
                scores.Add(buf.DenseValues().ToArray());
                labels.Add(key == 0 ? -1 : (int)key - 1);
            }
        }
        return new ScoredRows(scores.ToArray(), labels.ToArray(), sv.Size);
    }

    /// <summary>Creates rows from arrays (tests and callers holding scores already).</summary>
    public static ScoredRows From(float[][] scores, int[] labels, int classes) => new(scores, labels, classes);

    /// <summary>The predicted class: the first index of the highest score (as ML.NET; NaN scores give class 0).</summary>
    public static int ArgMax(float[] s)
    {
        int best = 0;
        for (int i = 1; i < s.Length; i++) if (s[i] > s[best]) best = i;
        return best;
    }

    /// <summary>The metrics over the rows <paramref name="include"/> keeps (all rows by default).</summary>
    public ModalityMetrics Metrics(Func<int, bool>? include = null)
    {
        int k = Classes;
        var confusion = new long[k, k];
        var perClass = new long[k];
        var predicted = new long[k];
        long n = 0, correct = 0; int nonFinite = 0;
        double logLoss = 0;
        for (int r = 0; r < Labels.Length; r++)
        {
            int y = Labels[r];
            if (y < 0 || (include != null && !include(r))) continue;
            var s = Scores[r];
            if (s.Any(v => !float.IsFinite(v))) nonFinite++;
            int p = ArgMax(s);
            n++;
            if (y < k) { perClass[y]++; confusion[y, p]++; }
            predicted[p]++;
            if (p == y) correct++;
            double py = y < s.Length ? s[y] : 0;
            logLoss += -Math.Log(Math.Max(LogLossEpsilon, py));
        }
        if (n == 0) return new ModalityMetrics(double.NaN, double.NaN, double.NaN, double.NaN, 0, 0);
        double macroAcc = 0; int present = 0;
        var recall = new double[k];
        var precision = new double[k];
        for (int c = 0; c < k; c++)
        {
            recall[c] = perClass[c] > 0 ? (double)confusion[c, c] / perClass[c] : 0;
            precision[c] = predicted[c] > 0 ? (double)confusion[c, c] / predicted[c] : 0;
            if (perClass[c] > 0) { macroAcc += recall[c]; present++; }
        }
        return new ModalityMetrics((double)correct / n, present > 0 ? macroAcc / present : 0, logLoss / n, ModalityMetrics.MacroF1Of(precision, recall), (int)n, nonFinite);
    }

    /// <summary>Expected calibration error over <paramref name="bins"/> equal-width confidence bins, and the bins.</summary>
    public CalibrationReport Calibration(int bins)
    {
        var count = new int[bins];
        var confSum = new double[bins];
        var right = new int[bins];
        int n = 0;
        for (int r = 0; r < Labels.Length; r++)
        {
            if (Labels[r] < 0) continue;
            var s = Scores[r];
            int p = ArgMax(s);
            double conf = s[p];
            if (!double.IsFinite(conf)) continue;
            conf = Math.Clamp(conf, 0, 1);
            int b = Math.Clamp((int)Math.Ceiling(conf * bins) - 1, 0, bins - 1);   // bins are (lower, upper]; 0 goes to the first
            count[b]++; confSum[b] += conf; if (p == Labels[r]) right[b]++; n++;
        }
        var list = new List<CalibrationBin>();
        double ece = 0;
        for (int b = 0; b < bins; b++)
        {
            double meanConf = count[b] > 0 ? confSum[b] / count[b] : double.NaN;
            double acc = count[b] > 0 ? (double)right[b] / count[b] : double.NaN;
            if (count[b] > 0) ece += (double)count[b] / n * Math.Abs(acc - meanConf);
            list.Add(new CalibrationBin((double)b / bins, (double)(b + 1) / bins, count[b], meanConf, acc));
        }
        return new CalibrationReport(n > 0 ? ece : double.NaN, list);
    }
}
