using System.CommandLine;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Benchmarks;

// mlnetfusion-bench: `dotnet run --project bench/MLNetFusion.Benchmarks -c Release -- [--only …]`, one JSON object per line.
try
{
    return BenchCommand.Create().Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception ex) when (ex is not OutOfMemoryException)
{
    Console.Error.WriteLine("Error: " + ex.Message);
    if (Environment.GetEnvironmentVariable("MLNETFUSION_DEBUG") == "1") Console.Error.WriteLine(ex);
    return 1;
}

/// <summary>The benchmarks' command line.</summary>
internal static class BenchCommand
{
    public static RootCommand Create()
    {
        var avdigits = new Option<string?>("--avdigits") { Description = "avdigits folder (audio throughput uses it when given; sweep, group-sweep and late-logo need it)." };
        var only = new Option<string[]>("--only")
        {
            Description = $"Run only these benchmarks ({string.Join(", ", Benchmarks.Default)} by default; {string.Join(", ", Benchmarks.OnDemand)} only when named: all but weak need --avdigits; sweep takes about 15 minutes, group-sweep about an hour). Several may be given, separated by spaces or commas.",
            AllowMultipleArgumentsPerToken = true,
        };
        var rows = new Option<int>("--streaming-rows") { Description = "Rows for the large streaming-fit measurement.", DefaultValueFactory = _ => 1_000_000 };
        var sweepMinutes = new Option<double>("--sweep-minutes") { Description = "Time budget of the sweep benchmarks.", DefaultValueFactory = _ => 10 };
        var lateMembers = new Option<string>("--late-members") { Description = "Members of the late-logo benchmark: linear (L-BFGS, minutes) or cnn (the leaderboard's CNN members, an hour).", DefaultValueFactory = _ => "linear" };
        var lateCombiners = new Option<string[]>("--late-combiners") { Description = "Combiners of the late-logo benchmark (default: all), separated by spaces or commas.", AllowMultipleArgumentsPerToken = true };
        var families = new Option<string[]>("--families") { Description = "Families of the balance benchmark: merge, network, cross-modal, late (default: all).", AllowMultipleArgumentsPerToken = true };
        var remedies = new Option<string[]>("--remedies") { Description = "Remedies of the balance benchmark, by the start of their name (default: all), e.g. defaults, ogm-ge, augmentation, audio augmentation, per-clip, speaker perturbation, 20% validation, image learning rate; 'a+b' applies both.", AllowMultipleArgumentsPerToken = true };
        var seeds = new Option<string[]>("--seeds") { Description = "Trainer seeds of the balance benchmark's neural families; each configuration is trained once per seed and the accuracies are averaged (default: 1).", AllowMultipleArgumentsPerToken = true };
        var weakCopies = new Option<int>("--weak-copies") { Description = "Generated copies (dataset seeds) of the weak benchmark.", DefaultValueFactory = _ => 3 };
        var weakRemediesOnly = new Option<bool>("--weak-remedies-only") { Description = "The weak benchmark trains the single modalities and the per-modality learning-rate remedy only, not every candidate." };
        var memoryRows = new Option<int>("--memory-rows") { Description = "Rows of the leaderboard-memory benchmark's generated CSV.", DefaultValueFactory = _ => 20_000 };
        var memoryEpochs = new Option<int>("--leaderboard-epochs") { Description = "Epochs of the neural entries of the leaderboard benchmarks (leaderboard-memory, baselines, grouped-leaderboard).", DefaultValueFactory = _ => Candidates.Epochs };
        var redis = new Option<string?>("--redis") { Description = "The distributed benchmark's Redis (host:port); default MLNETFUSION_REDIS, else it starts redis-server on a loopback port." };
        var distributedTrials = new Option<int>("--distributed-trials") { Description = "Trials of the distributed benchmark's study.", DefaultValueFactory = _ => 12 };
        var earlyStopping = new Option<int>("--early-stopping") { Description = "Early-stopping patience of the grouped-leaderboard benchmark's neural entries (a tenth of their training rows); 0 runs every epoch.", DefaultValueFactory = _ => FusionCandidates.Defaults.EarlyStoppingPatience };
        var oneDnnRemedies = new Option<string[]>("--onednn-remedies") { Description = "MLNETFUSION_ONEDNN settings the onednn benchmark compares (default: native, avx2, off), separated by spaces or commas.", AllowMultipleArgumentsPerToken = true };
        var oneDnnRounds = new Option<int>("--onednn-rounds") { Description = "Rounds of the onednn benchmark (each runs every setting once, in turn).", DefaultValueFactory = _ => 1 };
        var selectionCopies = new Option<int>("--selection-copies") { Description = "Generated copies (dataset seeds) of the selection benchmark.", DefaultValueFactory = _ => 5 };
        var selectionProtocols = new Option<string[]>("--selection-protocols") { Description = "Protocols the selection benchmark compares: holdout, crossfitK (K folds, a refit served), bagK (K folds, their average served), auto (default holdout,crossfit5,bag5).", AllowMultipleArgumentsPerToken = true };
        var timeLimitMinutes = new Option<double>("--time-limit-minutes") { Description = "The time-limit benchmark's limit for the leaderboard, in minutes.", DefaultValueFactory = _ => 10 };
        var command = new RootCommand("MLNetFusion's benchmarks; prints one JSON object per line.") { timeLimitMinutes, oneDnnRemedies, oneDnnRounds, selectionCopies, selectionProtocols, avdigits, only, rows, sweepMinutes, lateMembers, lateCombiners, families, remedies, seeds, weakCopies, weakRemediesOnly, memoryRows, memoryEpochs, redis, distributedTrials, earlyStopping };
        command.SetAction(r => Benchmarks.Run(new BenchmarkSettings(r.GetValue(avdigits), Split(r.GetValue(only)), r.GetValue(rows), r.GetValue(sweepMinutes),
            r.GetValue(lateMembers)!, Split(r.GetValue(lateCombiners)), Split(r.GetValue(families)), r.GetValue(weakCopies), Split(r.GetValue(remedies)), r.GetValue(weakRemediesOnly),
            Split(r.GetValue(seeds)).Select(s => int.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v
                : throw new ArgumentException($"--seeds takes integers; '{s}' is not one." + Environment.NewLine + "Hint: --seeds 1,2,3")).ToArray(),
            r.GetValue(memoryRows), r.GetValue(memoryEpochs), r.GetValue(redis), r.GetValue(distributedTrials), r.GetValue(earlyStopping))
            {
                OneDnnRemedies = Split(r.GetValue(oneDnnRemedies)), OneDnnRounds = r.GetValue(oneDnnRounds), SelectionCopies = r.GetValue(selectionCopies), TimeLimitMinutes = r.GetValue(timeLimitMinutes),
                SelectionProtocols = Split(r.GetValue(selectionProtocols)) is { Length: > 0 } f ? f.Select(v => { SelectionBenchmark.Parse(v); return v; }).ToArray() : new[] { "holdout", "crossfit5", "bag5" },
            }));
        return command;
    }

    private static string[] Split(string[]? values)
        => (values ?? Array.Empty<string>()).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
}
