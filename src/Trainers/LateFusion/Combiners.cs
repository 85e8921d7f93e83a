using MLNetFusion.Onnx;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>How <see cref="LateFusionTrainer"/> combines its members' class probabilities.</summary>
/// <remarks>
/// Which to use: <see cref="Average"/> is the robust default when members are similarly good; <see cref="WeightedAverage"/>
/// when one member is clearly better (weights are fitted on out-of-fold predictions); <see cref="ProductOfExperts"/>
/// when members are calibrated and each rules classes out (it rewards agreement, but one confident wrong member hurts);
/// <see cref="MajorityVote"/> for three or more members of uncalibrated quality; <see cref="Stacking"/> when there are
/// enough rows to learn how members interact (a meta-learner on out-of-fold probabilities).
/// </remarks>
public enum LateFusionCombiner
{
    /// <summary>Mean of the present members' probabilities.</summary>
    Average,
    /// <summary>Weighted mean; weights minimise the log-loss of out-of-fold (or validation) predictions.</summary>
    WeightedAverage,
    /// <summary>Normalised geometric mean of the present members' probabilities.</summary>
    ProductOfExperts,
    /// <summary>Each present member votes for its top class; ties go to the tied class with the highest mean probability, then to the lowest class index.</summary>
    MajorityVote,
    /// <summary>A meta-learner trained on out-of-fold member probabilities from k-fold cross-fitting (never on in-sample predictions).</summary>
    Stacking,
}

/// <summary>The combiners' arithmetic, on probability vectors. Pure functions, so their exact values are testable.</summary>
public static class LateFusionMath
{
    /// <summary>Probabilities below this are clamped in products and log-losses.</summary>
    public const float Epsilon = 1e-7f;

    /// <summary>
    /// Temperature scaling of a probability vector in place: <c>p_k ∝ exp(log p_k / T)</c>. T above 1 softens an
    /// over-confident distribution, below 1 sharpens it; zero probabilities stay zero.
    /// </summary>
    /// <param name="probabilities">A probability vector.</param>
    /// <param name="temperature">The temperature T (above 0).</param>
    public static void Temper(Span<float> probabilities, double temperature)
    {
        double max = double.NegativeInfinity;
        for (int k = 0; k < probabilities.Length; k++) if (probabilities[k] > 0) max = Math.Max(max, Math.Log(probabilities[k]) / temperature);
        double sum = 0;
        for (int k = 0; k < probabilities.Length; k++)
        {
            double v = probabilities[k] > 0 ? Math.Exp(Math.Log(probabilities[k]) / temperature - max) : 0;
            probabilities[k] = (float)v; sum += v;
        }
        if (sum > 0) for (int k = 0; k < probabilities.Length; k++) probabilities[k] = (float)(probabilities[k] / sum);
    }

    /// <summary>
    /// Member scores as probabilities. The rule: a score vector that is finite, within [0, 1] and sums to 1 (±1e-3) is
    /// already a probability distribution (ML.NET's maximum-entropy, LightGBM and MLNetFusion trainers output those);
    /// anything else (raw margins, e.g. from one-versus-all linear models) goes through a softmax.
    /// </summary>
    /// <remarks><paramref name="score"/> and <paramref name="probabilities"/> may be the same buffer: each value is read before it is written.</remarks>
    public static void ToProbabilities(ReadOnlySpan<float> score, Span<float> probabilities)
    {
        double sum = 0;
        bool inRange = true;
        foreach (var v in score) { if (!float.IsFinite(v) || v < 0 || v > 1) inRange = false; sum += v; }
        if (inRange && Math.Abs(sum - 1) <= 1e-3)
        {
            for (int i = 0; i < score.Length; i++) probabilities[i] = (float)(score[i] / sum);
            return;
        }
        float max = float.NegativeInfinity;
        foreach (var v in score) if (float.IsFinite(v) && v > max) max = v;
        double z = 0;
        for (int i = 0; i < score.Length; i++) { double e = float.IsFinite(score[i]) ? Math.Exp(score[i] - max) : 0; probabilities[i] = (float)e; z += e; }
        for (int i = 0; i < score.Length; i++) probabilities[i] = (float)(probabilities[i] / z);
    }

    /// <summary>The ONNX counterpart of <see cref="ToProbabilities(ReadOnlySpan{float}, Span{float})"/>, row by row on <c>[B, K]</c> scores.</summary>
    public static string ToProbabilitiesOnnx(OnnxGraph g, string s)
    {
        var inRange = g.Cast(g.Node("And", new[] { g.Node("GreaterOrEqual", new[] { s, g.Scalar(0f) }), g.Node("LessOrEqual", new[] { s, g.Scalar(1f) }) }), OnnxElementType.Float);
        var sum = g.ReduceSum(s, true, 1);
        var sumsToOne = g.Cast(g.Node("LessOrEqual", new[] { g.Node("Abs", new[] { g.Sub(sum, g.Scalar(1f)) }), g.Scalar(1e-3f) }), OnnxElementType.Float);
        var isProbability = g.Cast(g.Mul(g.Reduce("ReduceMin", inRange, true, 1), sumsToOne), OnnxElementType.Bool);            // [B, 1]
        return g.Where(isProbability, g.Div(s, sum), g.Softmax(s, 1));
    }

    /// <summary>Combines member probabilities <paramref name="p"/>[member][class] of the present members into <paramref name="result"/> (<see cref="ProbabilityCombiner.For"/>'s rule).</summary>
    /// <param name="combiner">Any combiner but <see cref="LateFusionCombiner.Stacking"/>.</param>
    /// <param name="p">Per member, class probabilities.</param>
    /// <param name="present">Which members take part for this row.</param>
    /// <param name="weights">Member weights: <see cref="LateFusionCombiner.WeightedAverage"/>'s, renormalised over present members; for the
    /// average, product of experts and vote a mask (0 leaves a member out while another member is present), or <c>null</c>.</param>
    /// <param name="result">Combined probabilities.</param>
    public static void Combine(LateFusionCombiner combiner, IReadOnlyList<float[]> p, IReadOnlyList<bool> present, IReadOnlyList<double>? weights, Span<float> result)
        => ProbabilityCombiner.For(combiner, weights).Combine(p, present, result);
}
