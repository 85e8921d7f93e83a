using MLNetFusion.Datasets;
using MLNetFusion.Runtime;
using TorchSharp;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>What <c>mlnetfusion bench</c> was asked to run.</summary>
/// <param name="AvDigits">The avdigits folder, if given.</param>
/// <param name="Only">The benchmarks to run (empty: the default set).</param>
/// <param name="StreamingRows">Rows of the large streaming fit.</param>
/// <param name="SweepMinutes">Budget of the sweep benchmarks.</param>
/// <param name="LateMembers">Members of the late-logo benchmark: linear or cnn.</param>
/// <param name="LateCombiners">Combiners of the late-logo benchmark (empty: all).</param>
/// <param name="Families">Families of the balance benchmark: merge, network, cross-modal, late (empty: all).</param>
/// <param name="WeakCopies">Generated copies (dataset seeds) of the weak-modality benchmark.</param>
/// <param name="WeakRemediesOnly">The weak benchmark trains the single modalities and the remedies only.</param>
/// <param name="Remedies">Remedies of the balance benchmark, by the start of their name (empty: all).</param>
/// <param name="Seeds">Trainer seeds of the balance benchmark (empty: 1).</param>
/// <param name="MemoryRows">Rows of the leaderboard-memory benchmark's generated CSV.</param>
/// <param name="LeaderboardEpochs">Epochs of the neural entries of the leaderboard benchmarks (leaderboard-memory, baselines).</param>
/// <param name="Redis">The distributed benchmark's Redis (host:port), or null for <c>MLNETFUSION_REDIS</c> or a redis-server it starts.</param>
/// <param name="DistributedTrials">Trials of the distributed benchmark's study.</param>
/// <param name="EarlyStopping">Early-stopping patience of the grouped-leaderboard benchmark's neural entries (0: every epoch).</param>
public sealed record BenchmarkSettings(string? AvDigits, IReadOnlyList<string> Only, int StreamingRows, double SweepMinutes = 10,
    string LateMembers = "linear", IReadOnlyList<string>? LateCombiners = null, IReadOnlyList<string>? Families = null, int WeakCopies = 3, IReadOnlyList<string>? Remedies = null, bool WeakRemediesOnly = false,
    IReadOnlyList<int>? Seeds = null, int MemoryRows = 20_000, int LeaderboardEpochs = Candidates.Epochs, string? Redis = null, int DistributedTrials = 12,
    int EarlyStopping = AutoML.Leaderboard.FusionCandidates.Defaults.EarlyStoppingPatience)
{
    /// <summary>The <c>MLNETFUSION_ONEDNN</c> settings the onednn benchmark compares (empty: native, avx2, off).</summary>
    public IReadOnlyList<string> OneDnnRemedies { get; init; } = Array.Empty<string>();

    /// <summary>Rounds of the onednn benchmark.</summary>
    public int OneDnnRounds { get; init; } = 1;

    /// <summary>Generated copies (dataset seeds) of the selection benchmark.</summary>
    public int SelectionCopies { get; init; } = 5;

    /// <summary>The protocols the selection benchmark compares: <c>holdout</c>, <c>crossfitK</c> (K folds, a refit served), <c>bagK</c> (K folds, their average served), <c>auto</c> (the default).</summary>
    public IReadOnlyList<string> SelectionProtocols { get; init; } = new[] { "holdout", "crossfit5", "bag5" };
    /// <summary>The time-limit benchmark's limit, in minutes.</summary>
    public double TimeLimitMinutes { get; init; } = 10;
}

/// <summary>
/// Benchmarks, each printed as one JSON object per line so scripts can read them (one file per benchmark, on the shared
/// <see cref="Measure"/> helpers). Ratios compare MLNetFusion's ML.NET path with the one pure TorchSharp loop over the
/// same network on pre-built tensors (<see cref="NeuralThroughputBenchmark"/>), measured in the same run.
/// </summary>
public static class Benchmarks
{
    /// <summary>The benchmarks run when none is named.</summary>
    public static IReadOnlyList<string> Default { get; } = new[] { "audio", "fit", "transform", "latency", "soak", "crafted", "infer", "streaming" };

    /// <summary>The benchmarks run only when named (they need avdigits and take long).</summary>
    public static IReadOnlyList<string> OnDemand { get; } = new[] { "onnx", "sweep", "group-sweep", "late-logo", "balance", "weak", "leaderboard-memory", "baselines", "distributed", "grouped-leaderboard", "onednn", "convolution-check", "sentences", "images", "selection", "time-limit", "torch-profile" };

    /// <summary>Runs the selected benchmarks and returns the exit code.</summary>
    public static int Run(BenchmarkSettings settings)
    {
        var unknown = settings.Only.FirstOrDefault(n => !Default.Concat(OnDemand).Contains(n, StringComparer.OrdinalIgnoreCase));
        if (unknown != null)
            throw new ArgumentException($"Unknown benchmark '{unknown}'." + Environment.NewLine + $"Hint: use one of {string.Join(", ", Default.Concat(OnDemand))}.");
        bool Want(string name) => settings.Only.Count == 0 ? Default.Contains(name) : settings.Only.Contains(name, StringComparer.OrdinalIgnoreCase);
        // Fail before an hour of work, not after: the avdigits benchmarks check their folder first.
        MultimodalDataset? avdigits = OnDemand.Where(n => n is not ("weak" or "leaderboard-memory" or "baselines" or "distributed" or "onednn" or "convolution-check" or "sentences" or "images" or "selection" or "time-limit" or "torch-profile")).Any(Want) ? MultimodalDataset.AvDigits(settings.AvDigits ?? DefaultPaths.AvDigits) : null;
        TorchRuntime.EnsureInitialized();
        Emit(new { benchmark = "environment", cores = Environment.ProcessorCount, torch_threads = torch.get_num_threads(), dotnet = Environment.Version.ToString(),
            onednn = TorchRuntime.OneDnn.Remedy.ToString(), cpu = TorchRuntime.OneDnn.CpuVendor, avx512 = TorchRuntime.OneDnn.CpuHasAvx512 });
        if (Want("onednn")) OneDnnBenchmark.Run(settings.OneDnnRemedies, settings.OneDnnRounds);
        if (Want("convolution-check")) OneDnnBenchmark.Check();
        if (Want("sentences")) SentenceEmbeddingBenchmark.Run();
        if (Want("images")) ImageEmbeddingBenchmark.Run();
        if (Want("selection")) SelectionBenchmark.Run(settings.SelectionCopies, settings.LeaderboardEpochs, settings.SelectionProtocols);
        if (Want("audio")) AudioFeaturizationBenchmark.AudioThroughput(settings.AvDigits);
        if (Want("fit") || Want("transform") || Want("latency")) NeuralThroughputBenchmark.Neural(Want("fit"), Want("transform"), Want("latency"));
        if (Want("soak")) SoakBenchmark.Soak(100_000);
        if (Want("sweep")) SweepBenchmark.SweepAgainstDefaults(avdigits!.Folder, TimeSpan.FromMinutes(settings.SweepMinutes));
        if (Want("group-sweep")) GroupedSweepBenchmark.GroupedSweepAgainstFamilies(avdigits!.Folder, TimeSpan.FromMinutes(settings.SweepMinutes));
        if (Want("late-logo")) LateFusionShiftBenchmark.LateFusionUnderShift(avdigits!.Folder, settings.LateMembers, settings.LateCombiners ?? Array.Empty<string>());
        if (Want("balance")) BalancedLearningBenchmark.Run(avdigits!.Folder, settings.Families ?? Array.Empty<string>(), settings.Remedies ?? Array.Empty<string>(), settings.Seeds ?? Array.Empty<int>());
        if (Want("weak")) WeakModalityBenchmark.Run(settings.WeakCopies, settings.WeakRemediesOnly);
        if (Want("baselines")) BaselineBenchmark.Run(settings.LeaderboardEpochs, settings.WeakCopies);
        if (Want("grouped-leaderboard")) GroupedLeaderboardBenchmark.Run(avdigits!.Folder, settings.LeaderboardEpochs, settings.EarlyStopping);
        if (Want("leaderboard-memory")) LeaderboardMemoryBenchmark.Run(settings.MemoryRows, settings.LeaderboardEpochs);
        if (Want("crafted")) CraftedModelBenchmark.Run();
        if (Want("onnx")) OnnxBenchmark.Run();
        if (Want("torch-profile")) TorchProfileBenchmark.Run();
        if (Want("distributed")) DistributedBenchmark.Run(settings.Redis, settings.DistributedTrials);
        if (Want("time-limit")) TimeLimitBenchmark.Run(settings.TimeLimitMinutes, settings.LeaderboardEpochs);
        if (Want("infer")) ColumnInferenceBenchmark.InferenceTime();
        if (Want("streaming")) StreamingBenchmark.Streaming(settings.StreamingRows);
        return 0;
    }
}
