using System.Diagnostics;
using System.Globalization;
using System.Text;
using MLNetFusion.AutoML;
using Microsoft.ML;
using MLNetFusion.Datasets;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only leaderboard-memory</c>: the whole leaderboard on a generated 20,000-row CSV shaped like a real one
/// that was killed for memory (a 20-word free-text column, two short text columns, an image, an audio clip and tabular
/// columns), reporting the peak resident memory of the process and every entry's result or error.
/// </summary>
internal static class LeaderboardMemoryBenchmark
{
    /// <summary>The target of issue 21: at most 4 GB resident.</summary>
    public const double TargetGigabytes = 4;

    public static void Run(int rows, int epochs)
    {
        var folder = Generate(Path.Combine(DefaultPaths.Artifacts, "data", $"memory-{rows}"), rows);
        var roles = new Dictionary<string, string> { ["Review"] = nameof(ColumnRole.Text), ["Channel"] = nameof(ColumnRole.Text), ["Tag"] = nameof(ColumnRole.Text), ["Site"] = nameof(ColumnRole.Ignored) };
        var ds = MultimodalDataset.FromCsv(Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv"), "Label", roles: roles);
        var clock = Stopwatch.StartNew();
        var ml = new MLContext(seed: 1);
        var (train, test, _) = ds.Featurize(ml);
        train.Preview(1);
        double featurized = ResidentGigabytes();
        // Resident memory sampled every 100 ms: the peak within each entry says which candidate needs what.
        double peakSinceEntry = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peakSinceEntry = Math.Max(peakSinceEntry, ResidentGigabytes());
                try { await Task.Delay(100, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        var perEntry = new List<object>();
        using var result = ml.Fusion().CreateLeaderboard(train, test, ds.Featurization, new AutoML.Leaderboard.FusionLeaderboardOptions
        {
            Epochs = epochs,
            EntryFinished = (e, all) =>
            {
                perEntry.Add(new { family = e.Family, name = e.Name, test_accuracy = e.Error == null ? Math.Round(e.Accuracy, 4) : (double?)null, error = e.Error, notes = e.Notes,
                    seconds = Math.Round(e.TrainingTime.TotalSeconds, 1), peak_resident_gb = Math.Round(Math.Max(peakSinceEntry, ResidentGigabytes()), 2) });
                Console.Error.WriteLine($"[{all.Count}] {e.Family}: {e.Name} → {(e.Error ?? $"{e.Accuracy:P1}")}{(e.Notes != null ? $" ({e.Notes})" : "")}, peak {Math.Max(peakSinceEntry, ResidentGigabytes()):F2} GB, {clock.Elapsed.TotalSeconds:F0} s");
                peakSinceEntry = 0;
            },
        });
        stop.Cancel();
        sampler.Wait();
        var entries = result.Entries;
        double peak = PeakResidentGigabytes();
        Emit(new
        {
            benchmark = "leaderboard_memory", rows, epochs, peak_resident_gb = Math.Round(peak, 2), target_gb = TargetGigabytes, met = peak <= TargetGigabytes,
            after_featurizing_gb = Math.Round(featurized, 2), seconds = Math.Round(clock.Elapsed.TotalSeconds, 1), entries = entries.Count, failed = entries.Count(e => e.Error != null),
            recommended = result.Recommended is { } r ? $"{r.Family}: {r.Name}" : null, results = perEntry,
        });
    }

    /// <summary>The process's resident set now (VmRSS), in GB; NaN where /proc is absent.</summary>
    internal static double ResidentGigabytes() => Status("VmRSS:");

    /// <summary>The process's peak resident set (VmHWM), in GB; NaN where /proc is absent.</summary>
    internal static double PeakResidentGigabytes() => Status("VmHWM:");

    private static double Status(string key)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return double.NaN;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        return line == null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0 / 1024.0;
    }

    /// <summary>The generated dataset (images, clips, tabular columns) with a 20-word review and two short text columns added.</summary>
    internal static string Generate(string folder, int rows)
    {
        int test = rows / 5;
        SyntheticMultimodalDataset.EnsureGenerated(folder, seed: 11, trainRows: rows - test, testRows: test);
        string stamp = Path.Combine(folder, "memory.txt");
        if (File.Exists(stamp)) return folder;
        var vocabulary = Enumerable.Range(0, 20_000).Select(i => "w" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var channels = Enumerable.Range(0, 400).Select(i => $"channel {i}").ToArray();
        var r = new Random(5);
        foreach (var file in new[] { "train.csv", "test.csv" })
        {
            var lines = File.ReadAllLines(Path.Combine(folder, file));
            var sb = new StringBuilder(lines[0] + ",Review,Channel,Tag\n");
            foreach (var line in lines.Skip(1))
            {
                bool positive = line.Contains("-pos,", StringComparison.Ordinal);
                var words = Enumerable.Range(0, 20).Select(_ => vocabulary[r.Next(vocabulary.Length)]).ToList();
                words[r.Next(words.Count)] = positive ? (r.NextDouble() < 0.7 ? "great" : "poor") : (r.NextDouble() < 0.7 ? "poor" : "great");
                sb.Append(line).Append(',').Append(string.Join(' ', words)).Append(',').Append(channels[r.Next(channels.Length)]).Append(',')
                  .Append(r.NextDouble() < 0.5 ? "tag a" : "tag b").Append('\n');
            }
            File.WriteAllText(Path.Combine(folder, file), sb.ToString());
        }
        File.WriteAllText(stamp, "review, channel and tag columns added\n");
        return folder;
    }
}
