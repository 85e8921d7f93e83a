namespace MLNetFusion.Trainers.LateFusion;

/// <summary>Temperature scaling of late fusion's members (Guo et al., 2017), fitted on out-of-fold predictions.</summary>
internal static class TemperatureScaling
{
    /// <summary>
    /// One temperature per member minimising its out-of-fold log-loss (a 1-D search over [0.05, 20] on a log grid, then
    /// refined), with its ECE before and after; the out-of-fold probabilities are tempered in place, so weights and
    /// stacking are fitted on calibrated members.
    /// </summary>
    public static (double[] temperatures, List<MemberCalibrationResult> report) Fit(OutOfFoldData oof, int classes, IReadOnlyList<LateFusionMember> members)
    {
        int m = members.Count;
        var temperatures = new double[m];
        var report = new List<MemberCalibrationResult>();
        for (int i = 0; i < m; i++)
        {
            var rows = Enumerable.Range(0, oof.Labels.Count).Where(r => oof.Present[r][i]).ToArray();
            var probs = rows.Select(r => oof.Probabilities[r][i]).ToArray();
            var labels = rows.Select(r => oof.Labels[r]).ToArray();
            double t = FitTemperature(probs, labels);
            double before = rows.Length > 0 ? Evaluation.ScoredRows.From(probs, labels, classes).Calibration(15).ExpectedCalibrationError : double.NaN;
            foreach (int r in rows) LateFusionMath.Temper(oof.Probabilities[r][i], t);
            double after = rows.Length > 0 ? Evaluation.ScoredRows.From(probs, labels, classes).Calibration(15).ExpectedCalibrationError : double.NaN;
            temperatures[i] = t;
            report.Add(new MemberCalibrationResult(members[i].Name, t, before, after));
        }
        return (temperatures, report);
    }

    /// <summary>The temperature minimising the log-loss of <paramref name="probabilities"/> (1 when there are no rows).</summary>
    public static double FitTemperature(IReadOnlyList<float[]> probabilities, IReadOnlyList<int> labels)
    {
        if (probabilities.Count == 0) return 1;
        var logs = probabilities.Select(p => p.Select(v => Math.Log(Math.Max(v, LateFusionMath.Epsilon))).ToArray()).ToArray();
        double Loss(double t)
        {
            double sum = 0;
            for (int r = 0; r < logs.Length; r++)
            {
                var l = logs[r];
                double max = double.NegativeInfinity;
                for (int k = 0; k < l.Length; k++) max = Math.Max(max, l[k] / t);
                double z = 0;
                for (int k = 0; k < l.Length; k++) z += Math.Exp(l[k] / t - max);
                sum -= l[labels[r]] / t - max - Math.Log(z);
            }
            return sum / logs.Length;
        }
        double lo = Math.Log(0.05), hi = Math.Log(20), best = 0, bestLoss = double.PositiveInfinity;
        for (int g = 0; g <= 60; g++)
        {
            double x = lo + (hi - lo) * g / 60, loss = Loss(Math.Exp(x));
            if (loss < bestLoss) { bestLoss = loss; best = x; }
        }
        // Golden-section refinement within one grid step either side.
        double step = (hi - lo) / 60, a = best - step, b = best + step, phi = (Math.Sqrt(5) - 1) / 2;
        for (int it = 0; it < 40; it++)
        {
            double c = b - phi * (b - a), d = a + phi * (b - a);
            if (Loss(Math.Exp(c)) < Loss(Math.Exp(d))) b = d; else a = c;
        }
        double refined = (a + b) / 2;
        return Math.Exp(Loss(Math.Exp(refined)) <= bestLoss ? refined : best);
    }
}
