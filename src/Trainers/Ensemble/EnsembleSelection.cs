namespace MLNetFusion.Trainers.Ensemble;

/// <summary>
/// Ensemble selection (Caruana, Niculescu-Mizil, Crew and Ksikes, "Ensemble Selection from Libraries of Models",
/// ICML 2004), as AutoGluon's weighted ensemble does it: start from the empty ensemble and, for a fixed number of
/// rounds, add (with replacement) the candidate whose addition gives the lowest log-loss of the averaged probabilities
/// on held-out rows. A candidate's weight is the share of rounds that picked it, so a model that never helps gets 0.
/// </summary>
public static class EnsembleSelection
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Selection rounds (AutoGluon's default ensemble size is 25 for its weighted ensemble).</summary>
        public const int Rounds = 25;
    }

    /// <summary>The smallest probability in the log-loss (as in ML.NET's evaluator).</summary>
    public const double Epsilon = 1e-15;

    /// <summary>Selects weights for <paramref name="probabilities"/> (<c>[candidate][row][class]</c>) against <paramref name="labels"/> (0-based).</summary>
    /// <param name="probabilities">Each candidate's class probabilities on the same held-out rows.</param>
    /// <param name="labels">The rows' classes, 0-based.</param>
    /// <param name="rounds">Selection rounds (at least 1).</param>
    /// <returns>One weight per candidate; they sum to 1. Ties go to the candidate listed first.</returns>
    public static double[] Select(IReadOnlyList<float[][]> probabilities, IReadOnlyList<int> labels, int rounds = Defaults.Rounds)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(labels);
        if (probabilities.Count == 0) throw new ArgumentException("Ensemble selection needs at least one candidate." + Environment.NewLine + "Hint: pass every candidate's held-out probabilities.", nameof(probabilities));
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), rounds, "Ensemble selection needs at least one round.");
        int m = probabilities.Count, n = labels.Count;
        if (n == 0) throw new ArgumentException("Ensemble selection needs held-out rows." + Environment.NewLine + "Hint: hold out validation rows (grouped when there is a group column).", nameof(labels));
        int k = probabilities[0].Length > 0 ? probabilities[0][0].Length : 0;
        for (int i = 0; i < m; i++)
            if (probabilities[i].Length != n || probabilities[i].Any(r => r.Length != k))
                throw new ArgumentException($"Candidate {i} has probabilities for {probabilities[i].Length} rows (or another class count); every candidate needs {n} rows of {k} classes.", nameof(probabilities));
        var counts = new int[m];
        var sum = new double[n, k];   // the sum of the selected candidates' probabilities
        for (int round = 1; round <= rounds; round++)
        {
            int best = -1;
            double bestLoss = double.PositiveInfinity;
            for (int i = 0; i < m; i++)
            {
                double loss = 0;
                for (int r = 0; r < n; r++)
                {
                    double p = (sum[r, labels[r]] + probabilities[i][r][labels[r]]) / round;
                    loss -= Math.Log(Math.Max(p, Epsilon));
                }
                loss /= n;
                if (loss < bestLoss - 1e-12) { bestLoss = loss; best = i; }
            }
            counts[best]++;
            for (int r = 0; r < n; r++) for (int c = 0; c < k; c++) sum[r, c] += probabilities[best][r][c];
        }
        return counts.Select(c => c / (double)rounds).ToArray();
    }

    /// <summary>The log-loss of <paramref name="probabilities"/> against <paramref name="labels"/>.</summary>
    public static double LogLoss(float[][] probabilities, IReadOnlyList<int> labels)
        => -labels.Select((y, r) => Math.Log(Math.Max(probabilities[r][y], Epsilon))).Average();
}
