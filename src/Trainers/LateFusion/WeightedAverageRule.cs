using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetFusion.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>The weighted average: member weights fitted on out-of-fold log-loss, shrunk toward equal weights as far as held-out folds support.</summary>
internal sealed class WeightedAverageRule : ICombinerRule
{
    /// <inheritdoc />
    public bool NeedsOutOfFold => true;

    /// <inheritdoc />
    public bool LeavesOutUninformative => true;

    /// <inheritdoc />
    public CombinerFit Fit(CombinerFitContext context)
    {
        var (fitted, shrinkage) = FitShrunkWeights(context.OutOfFold!, context.Classes);
        if (context.Informative is { } informative && informative.Any(i => !i))
        {
            var kept = fitted.Select((w, i) => informative[i] ? w : 0).ToArray();
            if (kept.Sum() > 0) fitted = kept.Select(w => w / kept.Sum()).ToArray();
        }
        context.Channel.Info(MessageSensitivity.None, "Late fusion weights: " + string.Join(", ", context.Options.Members.Select((m, i) => $"{m.Name} {fitted[i]:F3}")) +
            $" (shrunk {shrinkage:P0} toward equal weights, chosen on held-out {context.HeldOut}).");
        return new(fitted);
    }

    /// <inheritdoc />
    public IEnumerable<ITransformer> CreateTransformers(CombinerFit fit, CombinerColumns columns)
        => new[] { CombinerRules.Combine(columns, LateFusionCombiner.WeightedAverage, fit.Weights) };

    /// <summary>
    /// Weights fitted on all out-of-fold rows, shrunk toward equal weights by the share that held-out folds support:
    /// for each fold, weights fitted on the other folds are scored (log-loss) on it at every shrinkage step, and the most
    /// shrunk step within one standard error (across folds) of the best is chosen. With a sampling key each fold holds whole groups, so weights
    /// that do not carry over to unseen groups (one member looks better only on some groups) end near equal weights,
    /// and the weighted average is then no worse than the plain average.
    /// </summary>
    internal static (double[] weights, double shrinkage) FitShrunkWeights(OutOfFoldData oof, int classes)
    {
        var steps = HeldOutShrinkage.Steps;
        var full = FitWeights(oof, classes);
        int m = full.Length;
        var folds = oof.Folds.Distinct().ToList();
        if (m < 2 || folds.Count < 2) return (full, 0);
        var loss = new double[folds.Count, steps.Length];
        for (int fi = 0; fi < folds.Count; fi++)
        {
            int f = folds[fi], rows = 0;
            var w = FitWeights(oof, classes, r => oof.Folds[r] != f);
            for (int r = 0; r < oof.Labels.Count; r++)
            {
                if (oof.Folds[r] != f) continue;
                rows++;
                for (int a = 0; a < steps.Length; a++)
                {
                    double num = 0, den = 0;
                    for (int i = 0; i < m; i++)
                    {
                        if (!oof.Present[r][i]) continue;
                        double wi = (1 - steps[a]) * w[i] + steps[a] / m;
                        num += wi * oof.Probabilities[r][i][oof.Labels[r]]; den += wi;
                    }
                    loss[fi, a] += -Math.Log(Math.Max(LateFusionMath.Epsilon, den > 0 ? num / den : 0));
                }
            }
            for (int a = 0; a < steps.Length; a++) loss[fi, a] /= Math.Max(1, rows);
        }
        double alpha = steps[HeldOutShrinkage.MostShrunkWithinOneStandardError(loss)];
        return (full.Select(x => (1 - alpha) * x + alpha / m).ToArray(), alpha);
    }

    /// <summary>Member weights minimising the out-of-fold log-loss of the weighted average (softmax-parametrised, Adam), on the rows <paramref name="include"/> keeps.</summary>
    internal static double[] FitWeights(OutOfFoldData oof, int classes, Func<int, bool>? include = null)
    {
        TorchRuntime.EnsureInitialized();
        var rows = Enumerable.Range(0, oof.Labels.Count).Where(r => include == null || include(r)).ToArray();
        int n = rows.Length, m = oof.Probabilities.Count == 0 ? 0 : oof.Probabilities[0].Length;
        if (n == 0) return Enumerable.Repeat(1.0 / Math.Max(1, m), m).ToArray();
        using var scope = NewDisposeScope();
        var pTrue = new float[n * m];
        var pres = new float[n * m];
        for (int k = 0; k < n; k++)
        {
            int r = rows[k];
            for (int i = 0; i < m; i++)
            {
                pTrue[k * m + i] = Math.Max(oof.Probabilities[r][i][oof.Labels[r]], LateFusionMath.Epsilon);
                pres[k * m + i] = oof.Present[r][i] ? 1 : 0;
            }
        }
        var pt = tensor(pTrue, new long[] { n, m });
        var pm = tensor(pres, new long[] { n, m });
        var theta = zeros(m, requires_grad: true);
        var opt = optim.Adam(new[] { new TorchSharp.Modules.Parameter(theta) }, 0.05);
        var param = opt.parameters().First();
        for (int step = 0; step < 500; step++)
        {
            opt.zero_grad();
            var w = nn.functional.softmax(param, 0) * pm;                       // [n, m]
            var mix = (w * pt).sum(1) / w.sum(1).clamp_min(1e-12);
            var loss = -mix.clamp_min(LateFusionMath.Epsilon).log().mean();
            loss.backward();
            opt.step();
        }
        return nn.functional.softmax(param.detach(), 0).to_type(ScalarType.Float64).data<double>().ToArray();
    }
}
