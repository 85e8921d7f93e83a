using System.Diagnostics;
using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Datasets;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only selection</c> (issue 43): does the leaderboard's recommendation hold on small data? On a generated
/// houses-like set (<see cref="WeakModalityDataset"/> with zip codes: 500 training rows, four informative numbers, a
/// zip code that shifts the price, a weak image; 1,000 test rows) over several data seeds, every protocol's recommended
/// entry against the best entry on the test rows (an oracle no protocol can use), LightGBM on the tabular columns, the
/// best neural family and the hybrid entry. One JSON line per seed and protocol, then a summary per protocol.
/// </summary>
internal static class SelectionBenchmark
{
    /// <summary>A protocol's name as the leaderboard's folds and served model.</summary>
    public static (int folds, CrossFittedModel served) Parse(string protocol)
    {
        static int K(string digits) => int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int k) && k is >= 2 and <= 20 ? k
            : throw new ArgumentException($"'{digits}' is not a number of folds in [2, 20]." + Environment.NewLine + "Hint: crossfit5 or bag5.");
        return protocol switch
        {
            "holdout" => (1, CrossFittedModel.Refit),
            "auto" => (FusionLeaderboardOptions.Defaults.NumberOfFolds, new FusionLeaderboardOptions().CrossFittedModel),
            _ when protocol.StartsWith("crossfit", StringComparison.Ordinal) => (K(protocol["crossfit".Length..]), CrossFittedModel.Refit),
            _ when protocol.StartsWith("bag", StringComparison.Ordinal) => (K(protocol["bag".Length..]), CrossFittedModel.Bagged),
            _ => throw new ArgumentException($"Unknown selection protocol '{protocol}'." + Environment.NewLine + "Hint: holdout, crossfit5, bag5 or auto."),
        };
    }

    public static void Run(int copies, int epochs, IReadOnlyList<string> protocols)
    {
        var summary = new Dictionary<string, List<(double recommended, double oracle, double lightgbm, double neural, double? hybrid)>>();
        for (int copy = 0; copy < copies; copy++)
        {
            int seed = 7 + copy;
            string folder = WeakModalityDataset.EnsureGenerated(Path.Combine(Path.GetTempPath(), "mlnetfusion-selection", $"seed{seed}"), seed, trainRows: 500, testRows: 1000, zipCodes: true);
            var ds = MultimodalDataset.FromCsv(Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv"), "Label");
            var ml = new MLContext(seed: 1);
            var (train, test, _) = ds.Featurize(ml);
            train.Preview(1); test.Preview(1);
            foreach (string protocol in protocols)
            {
                var (k, served) = Parse(protocol);
                var clock = Stopwatch.StartNew();
                using var result = ml.Fusion().CreateLeaderboard(train, test, ds.Featurization, new FusionLeaderboardOptions
                {
                    Epochs = epochs, NumberOfFolds = k, CrossFittedModel = served, Seed = 1,
                    EntryFinished = (e, all) => Console.Error.WriteLine($"[seed {seed}, {protocol}, {all.Count}] {e.Family}: {e.Name} → {e.Error ?? $"judged {e.ValidationAccuracy:P1}, test {e.Accuracy:P1}"} ({e.TrainingTime.TotalSeconds:F0} s)"),
                });
                var ok = result.Entries.Where(e => e.Error == null).ToList();
                var oracle = ok.OrderByDescending(e => e.Accuracy).First();
                var lightgbm = ok.FirstOrDefault(e => e.Name.EndsWith("only: LightGBM", StringComparison.Ordinal));
                var neural = ok.Where(e => e.Family is "merge" or "network" or "cross-modal" or "early").OrderByDescending(e => e.Accuracy).First();
                var hybrid = ok.FirstOrDefault(e => e.Family == "hybrid");
                var r = result.Recommended!;
                (summary.TryGetValue(protocol, out var list) ? list : summary[protocol] = new()).Add((r.Accuracy, oracle.Accuracy, lightgbm?.Accuracy ?? double.NaN, neural.Accuracy, hybrid?.Accuracy));
                Emit(new
                {
                    benchmark = "selection", dataset = "weak-modality+zip", dataset_seed = seed, protocol, protocol_sentence = result.Protocol, epochs, minutes = Math.Round(clock.Elapsed.TotalMinutes, 1),
                    timings = result.Timings.ToDictionary(t => t.Part, t => Math.Round(t.Time.TotalSeconds, 1)),
                    recommended = $"{r.Family}: {r.Name}", recommended_judged = Math.Round(r.ValidationAccuracy, 4), recommended_test = Math.Round(r.Accuracy, 4),
                    oracle = $"{oracle.Family}: {oracle.Name}", oracle_test = Math.Round(oracle.Accuracy, 4),
                    lightgbm_tabular_test = lightgbm is null ? (double?)null : Math.Round(lightgbm.Accuracy, 4),
                    best_neural = $"{neural.Family}: {neural.Name}", best_neural_test = Math.Round(neural.Accuracy, 4),
                    hybrid_test = hybrid is null ? (double?)null : Math.Round(hybrid.Accuracy, 4), hybrid_judged = hybrid is null ? (double?)null : Math.Round(hybrid.ValidationAccuracy, 4),
                    entries = result.Entries.Select(e => new { family = e.Family, name = e.Name, judged = e.Error == null ? Math.Round(e.ValidationAccuracy, 4) : (double?)null,
                        test = e.Error == null ? Math.Round(e.Accuracy, 4) : (double?)null, seconds = Math.Round(e.TrainingTime.TotalSeconds, 1), error = e.Error }),
                });
            }
        }
        foreach (var (protocol, rows) in summary)
            Emit(new
            {
                benchmark = "selection_summary", protocol, seeds = rows.Count,
                recommended_test = Math.Round(rows.Average(x => x.recommended), 4), oracle_test = Math.Round(rows.Average(x => x.oracle), 4),
                gap_to_oracle = Math.Round(rows.Average(x => x.oracle - x.recommended), 4),
                lightgbm_tabular_test = Math.Round(rows.Average(x => x.lightgbm), 4), best_neural_test = Math.Round(rows.Average(x => x.neural), 4),
                hybrid_test = rows.All(x => x.hybrid is double) ? Math.Round(rows.Average(x => x.hybrid!.Value), 4) : (double?)null,
            });
    }
}
