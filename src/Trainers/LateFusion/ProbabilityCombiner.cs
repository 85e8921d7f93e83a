using MLNetFusion.Onnx;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// A rule that combines members' class probabilities into one distribution, row by row: its arithmetic on the CPU
/// (<see cref="Combine"/>) and the same arithmetic as ONNX nodes (<see cref="ExportOnnx"/>), side by side, so that the
/// two cannot drift apart. Late fusion's combiners, the weighted ensemble (and its ONNX export) and the leaderboard's
/// ensemble blend all combine through one; <see cref="For"/> gives the rule of a <see cref="LateFusionCombiner"/>.
/// </summary>
/// <remarks>
/// A new rule derives from this class and implements both methods over the members present in a row (the class counts
/// them and rejects a row with none); the tests hold its two sides to each other on random rows.
/// </remarks>
public abstract class ProbabilityCombiner
{
    /// <summary>The rule's name, for logs and errors.</summary>
    public abstract string Name { get; }

    /// <summary>Combines the present members' probabilities <paramref name="p"/>[member][class] into <paramref name="result"/>.</summary>
    /// <param name="p">Per member, class probabilities.</param>
    /// <param name="present">Which members take part in this row (at least one).</param>
    /// <param name="result">The combined probabilities, one per class.</param>
    /// <exception cref="InvalidOperationException">No member is present.</exception>
    public void Combine(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, Span<float> result)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(present);
        if (present.Count != p.Count) throw new ArgumentException($"{p.Count} members but {present.Count} presence flags.", nameof(present));
        int n = 0;
        for (int m = 0; m < p.Count; m++) if (present[m]) n++;
        if (n == 0) throw new InvalidOperationException("No member is present for this row.");
        result.Clear();
        CombinePresent(p, present, n, result);
    }

    /// <summary>The CPU arithmetic over the <paramref name="n"/> present members (at least one); <paramref name="result"/> is cleared.</summary>
    protected abstract void CombinePresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, int n, Span<float> result);

    /// <summary>
    /// The same arithmetic as ONNX nodes in <paramref name="g"/>: each member's probabilities <c>[B, K]</c> and presence
    /// <c>[B, 1]</c> (1 present, 0 absent) give the combined <c>[B, K]</c>. A row without a present member may get any
    /// value; the caller replaces it.
    /// </summary>
    /// <param name="g">The graph.</param>
    /// <param name="p">Per member, its probabilities' value name.</param>
    /// <param name="present">Per member, its presence's value name.</param>
    /// <param name="classes">K, the classes.</param>
    public abstract string ExportOnnx(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present, int classes);

    /// <summary>
    /// The rule of <paramref name="combiner"/>. With <paramref name="weights"/>, <see cref="LateFusionCombiner.WeightedAverage"/>
    /// weighs members by them; the average, product of experts and vote read them as a mask: a member with weight 0 (no
    /// better than the class prior out of fold) is left out, unless it is all a row has.
    /// </summary>
    /// <param name="combiner">Any combiner but <see cref="LateFusionCombiner.Stacking"/>, which combines through its meta-learner.</param>
    /// <param name="weights">Member weights, or <c>null</c> (required by <see cref="LateFusionCombiner.WeightedAverage"/>).</param>
    public static ProbabilityCombiner For(LateFusionCombiner combiner, IReadOnlyList<double>? weights)
    {
        ProbabilityCombiner rule = combiner switch
        {
            LateFusionCombiner.Average => new AverageRule(),
            LateFusionCombiner.WeightedAverage => new WeightedAverageRule(weights ?? throw new ArgumentNullException(nameof(weights), "The weighted average needs member weights.")),
            LateFusionCombiner.ProductOfExperts => new ProductOfExpertsRule(),
            LateFusionCombiner.MajorityVote => new MajorityVoteRule(),
            _ => throw new ArgumentOutOfRangeException(nameof(combiner), combiner, "Stacking combines through its meta-learner."),
        };
        return weights != null && combiner != LateFusionCombiner.WeightedAverage ? new LeaveOutZeroWeights(rule, weights) : rule;
    }

    /// <summary>
    /// A registered rule of the application's own (<see cref="Register"/>) by its name, members with weight 0 in
    /// <paramref name="mask"/> left out (no better than the class prior out of fold) unless they are all a row has.
    /// </summary>
    /// <exception cref="ArgumentException">No rule of that name is registered; the message says how to register it.</exception>
    internal static ProbabilityCombiner Registered(string name, IReadOnlyList<double>? mask)
    {
        var rule = RegisteredRules.TryGetValue(name, out var r) ? r : throw new ArgumentException(
            $"The probability combiner '{name}' is not registered (registered: {(RegisteredRules.IsEmpty ? "none" : string.Join(", ", RegisteredRules.Keys.Order()))})." + Environment.NewLine +
            "Hint: register it with ProbabilityCombiner.Register before training or loading a model that uses it.", nameof(name));
        return mask != null ? new LeaveOutZeroWeights(rule, mask) : rule;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ProbabilityCombiner> RegisteredRules = new(StringComparer.Ordinal);
    private static readonly string[] BuiltInNames = { "average", "weighted average", "product of experts", "majority vote" };

    /// <summary>
    /// Registers a rule of the application's own, so that late fusion can combine with it (<see cref="LateFusionOptions.Rule"/>)
    /// and a model file that uses it can be loaded: model files record the rule's <see cref="Name"/>, and only registered
    /// rules are created when loading (an allow-list, as <c>ModalityRegistry</c>'s). Registering the same type again does
    /// nothing; another rule of the same name, or a built-in rule's name, is an error.
    /// </summary>
    /// <param name="rule">The rule (its state, if any, is shared by every model that uses it).</param>
    public static void Register(ProbabilityCombiner rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (string.IsNullOrWhiteSpace(rule.Name) || BuiltInNames.Contains(rule.Name, StringComparer.OrdinalIgnoreCase))
            throw new ArgumentException($"A registered combiner needs a name of its own, not '{rule.Name}'." + Environment.NewLine + "Hint: the built-in rules are chosen with LateFusionCombiner.", nameof(rule));
        var existing = RegisteredRules.GetOrAdd(rule.Name, rule);
        if (!ReferenceEquals(existing, rule) && existing.GetType() != rule.GetType())
            throw new InvalidOperationException($"A probability combiner named '{rule.Name}' is registered already ({existing.GetType().Name})." + Environment.NewLine + "Hint: give the new one another name.");
    }

    /// <summary>Whether a rule of that name is registered (<see cref="Register"/>).</summary>
    public static bool IsRegistered(string name) => RegisteredRules.ContainsKey(name ?? throw new ArgumentNullException(nameof(name)));

    /// <summary>A weighted average of members that are always present (an ensemble's): the weights need not sum to 1.</summary>
    /// <param name="weights">A non-negative weight per member, not all 0.</param>
    public static ProbabilityCombiner WeightedAverage(IReadOnlyList<double> weights) => new WeightedAverageRule(weights);

    /// <summary>A member that is present in every row, for <see cref="ExportOnnx"/>: a <c>[B, 1]</c> of ones, one per row of <paramref name="probabilities"/> (<c>[B, K]</c>).</summary>
    /// <param name="g">The graph.</param>
    /// <param name="probabilities">The member's probabilities' value name.</param>
    public static string AlwaysPresent(OnnxGraph g, string probabilities)
    {
        ArgumentNullException.ThrowIfNull(g);
        return g.Add(g.Mul(g.ReduceSum(probabilities, true, 1), g.Scalar(0f)), g.Scalar(1f));
    }

    /// <summary>The number of present members, at least 1, as a <c>[B, 1]</c> value.</summary>
    protected static string PresentCount(OnnxGraph g, IReadOnlyList<string> present) => g.Max(present.Aggregate(g.Add), g.Scalar(1f));

    /// <summary>The mean of the present members' probabilities, <c>[B, K]</c>.</summary>
    protected static string MeanOfPresent(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present)
        => g.Div(p.Select((pi, i) => g.Mul(pi, present[i])).Aggregate(g.Add), PresentCount(g, present));

    /// <summary>The mean of the present members' probabilities into <paramref name="result"/>.</summary>
    protected static void MeanOfPresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, Span<float> result)
    {
        int k = result.Length;
        double count = 0;
        var acc = new double[k];
        for (int m = 0; m < p.Count; m++)
        {
            if (!present[m]) continue;
            count++;
            for (int c = 0; c < k; c++) acc[c] += p[m][c];
        }
        for (int c = 0; c < k; c++) result[c] = (float)(acc[c] / count);
    }

    /// <summary>Mean of the present members' probabilities.</summary>
    private sealed class AverageRule : ProbabilityCombiner
    {
        public override string Name => "average";
        protected override void CombinePresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, int n, Span<float> result) => MeanOfPresent(p, present, result);
        public override string ExportOnnx(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present, int classes) => MeanOfPresent(g, p, present);
    }

    /// <summary>Weighted mean over the present members, renormalised over them; the plain mean when their weights sum to 0.</summary>
    private sealed class WeightedAverageRule : ProbabilityCombiner
    {
        private readonly double[] _weights;

        public WeightedAverageRule(IReadOnlyList<double> weights)
        {
            ArgumentNullException.ThrowIfNull(weights);
            if (weights.Any(w => !double.IsFinite(w) || w < 0))
                throw new ArgumentOutOfRangeException(nameof(weights), "Member weights must be finite and non-negative." + Environment.NewLine + "Hint: weight 0 leaves a member out.");
            _weights = weights.ToArray();
        }

        public override string Name => "weighted average";

        protected override void CombinePresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, int n, Span<float> result)
        {
            if (_weights.Length != p.Count) throw new ArgumentException($"{_weights.Length} weights for {p.Count} members.", nameof(p));
            int k = result.Length;
            double wsum = 0;
            var acc = new double[k];
            for (int m = 0; m < p.Count; m++)
            {
                if (!present[m]) continue;
                double w = _weights[m];
                wsum += w;
                for (int c = 0; c < k; c++) acc[c] += w * p[m][c];
            }
            if (wsum <= 0) { MeanOfPresent(p, present, result); return; }
            for (int c = 0; c < k; c++) result[c] = (float)(acc[c] / wsum);
        }

        public override string ExportOnnx(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present, int classes)
        {
            var w = present.Select((pr, i) => g.Mul(pr, g.Scalar((float)_weights[i]))).ToArray();
            var wsum = w.Aggregate(g.Add);
            var weighted = g.Div(p.Select((pi, i) => g.Mul(pi, w[i])).Aggregate(g.Add), g.Max(wsum, g.Scalar(float.Epsilon)));
            return g.Where(g.Node("Greater", new[] { wsum, g.Scalar(0f) }), weighted, MeanOfPresent(g, p, present));
        }
    }

    /// <summary>Normalised geometric mean of the present members' probabilities (each clamped at <see cref="LateFusionMath.Epsilon"/>).</summary>
    private sealed class ProductOfExpertsRule : ProbabilityCombiner
    {
        public override string Name => "product of experts";

        protected override void CombinePresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, int n, Span<float> result)
        {
            int k = result.Length;
            var log = new double[k];
            for (int m = 0; m < p.Count; m++)
                if (present[m])
                    for (int c = 0; c < k; c++) log[c] += Math.Log(Math.Max(p[m][c], LateFusionMath.Epsilon)) / n;
            double max = log.Max(), z = 0;
            for (int c = 0; c < k; c++) { log[c] = Math.Exp(log[c] - max); z += log[c]; }
            for (int c = 0; c < k; c++) result[c] = (float)(log[c] / z);
        }

        public override string ExportOnnx(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present, int classes)
            => g.Softmax(g.Div(p.Select((pi, i) => g.Mul(g.Log(g.Max(pi, g.Scalar(LateFusionMath.Epsilon))), present[i])).Aggregate(g.Add), PresentCount(g, present)), 1);
    }

    /// <summary>Each present member votes for its top class; ties go to the tied class with the highest mean probability, then the lowest index.</summary>
    private sealed class MajorityVoteRule : ProbabilityCombiner
    {
        public override string Name => "majority vote";

        protected override void CombinePresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, int n, Span<float> result)
        {
            int k = result.Length;
            var votes = new double[k];
            var mean = new double[k];
            for (int m = 0; m < p.Count; m++)
            {
                if (!present[m]) continue;
                int best = 0;
                for (int c = 1; c < k; c++) if (p[m][c] > p[m][best]) best = c;
                votes[best]++;
                for (int c = 0; c < k; c++) mean[c] += p[m][c] / n;
            }
            // Vote shares; the winner among tied classes (highest mean probability, then lowest index) gets a tiny bonus
            // so that argmax(Score) is the documented tie-break.
            double top = votes.Max();
            int winner = -1;
            for (int c = 0; c < k; c++)
                if (votes[c] == top && (winner < 0 || mean[c] > mean[winner])) winner = c;
            votes[winner] += 1e-3;
            double total = votes.Sum();
            for (int c = 0; c < k; c++) result[c] = (float)(votes[c] / total);
        }

        public override string ExportOnnx(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present, int classes)
        {
            var indices = g.Constant("classes", Enumerable.Range(0, classes).Select(c => (long)c).ToArray(), new long[] { 1, classes });
            string OneHot(string index) => g.Cast(g.Node("Equal", new[] { index, indices }), OnnxElementType.Float);
            var votes = p.Select((pi, i) => g.Mul(OneHot(g.Node("ArgMax", new[] { pi }, OnnxAttribute.Of("axis", 1L), OnnxAttribute.Of("keepdims", 1L))), present[i])).Aggregate(g.Add);
            var mean = MeanOfPresent(g, p, present);
            var tied = g.Node("Equal", new[] { votes, g.Reduce("ReduceMax", votes, true, 1) });
            var winner = g.Node("ArgMax", new[] { g.Where(tied, mean, g.Scalar(-1f)) }, OnnxAttribute.Of("axis", 1L), OnnxAttribute.Of("keepdims", 1L));   // first of the highest mean
            votes = g.Add(votes, g.Mul(OneHot(winner), g.Scalar(1e-3f)));
            return g.Div(votes, g.ReduceSum(votes, true, 1));
        }
    }

    /// <summary>
    /// Reads weights as a mask around another rule: members with weight 0 are left out of a row while another present
    /// member has a positive weight, else the row keeps all its present members.
    /// </summary>
    private sealed class LeaveOutZeroWeights(ProbabilityCombiner inner, IReadOnlyList<double> weights) : ProbabilityCombiner
    {
        private readonly double[] _weights = weights.ToArray();

        public override string Name => inner.Name;

        protected override void CombinePresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, int n, Span<float> result)
        {
            if (_weights.Length != p.Count) throw new ArgumentException($"{_weights.Length} weights for {p.Count} members.", nameof(p));
            var masked = new bool[p.Count];
            int usable = 0;
            for (int m = 0; m < p.Count; m++) if (masked[m] = present[m] && _weights[m] > 0) usable++;
            if (usable > 0) inner.CombinePresent(p, masked, usable, result);
            else inner.CombinePresent(p, present, n, result);
        }

        public override string ExportOnnx(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present, int classes)
        {
            var masked = present.Select((pr, i) => _weights[i] > 0 ? pr : g.Mul(pr, g.Scalar(0f))).ToArray();
            var usable = g.Node("Greater", new[] { masked.Aggregate(g.Add), g.Scalar(0f) });
            return inner.ExportOnnx(g, p, present.Select((pr, i) => g.Where(usable, masked[i], pr)).ToArray(), classes);
        }
    }
}
