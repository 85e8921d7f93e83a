using System.Diagnostics;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Trainers;

namespace MLNetFusion.AutoML.Leaderboard;

/// <summary>
/// How a leaderboard spends its time limit (<see cref="FusionLeaderboardOptions.TimeLimit"/>), as AutoGluon's
/// <c>time_limit</c> does: candidates run cheapest-informative first (the plain baselines, then late fusion, the early
/// MLP, each modality alone, and the joint networks); a neural candidate's epochs are scaled to its share of the time
/// left, measured from the epochs already run; a candidate that would not finish is skipped and listed as such; a
/// running one is stopped at the limit. The recommendation and the ensemble use what finished.
/// </summary>
internal sealed class LeaderboardBudget : IDisposable
{
    /// <summary>The fewest epochs a neural candidate is scaled down to: fewer judge an untrained network.</summary>
    internal const int MinimumEpochs = 2;

    /// <summary>The early-stopping patience neural candidates get under a limit when the options set none: time goes to candidates still improving.</summary>
    internal const int Patience = 3;

    /// <summary>The share of the time left a candidate plans to use, the rest kept for the estimates' error and the ensemble.</summary>
    private const double Safety = 0.85;

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _expired = new();
    private readonly int _maximumEpochs;
    // Seconds per unit of work (one fit; for a neural candidate one epoch of one fit), per cost class.
    private readonly Dictionary<int, List<double>> _perUnit = new();

    public LeaderboardBudget(TimeSpan limit, int maximumEpochs)
    {
        Limit = limit;
        _maximumEpochs = maximumEpochs;
        _expired.CancelAfter(limit);
    }

    /// <summary>The time limit.</summary>
    public TimeSpan Limit { get; }

    /// <summary>Time left (0 once the limit has passed).</summary>
    public TimeSpan Left => Limit - _clock.Elapsed is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <summary>Cancelled when the limit passes: a neural candidate stops there.</summary>
    public CancellationToken Expired => _expired.Token;

    /// <summary>For progress lines: "4m12s of 10m left".</summary>
    public string LeftText => $"{Format(Left)} of {Format(Limit)} left";

    /// <summary>
    /// The order candidates run in: by cost class (a stable sort, so the given order within a class is kept).
    /// Returns indices into <paramref name="candidates"/>.
    /// </summary>
    public static IReadOnlyList<int> Order(IReadOnlyList<LeaderboardCandidate> candidates)
        => Enumerable.Range(0, candidates.Count).OrderBy(i => CostClass(candidates[i])).ToArray();

    /// <summary>
    /// Cheapest-informative first: 0 the plain baselines (linear, LightGBM), 1 late fusion (members fitted once and
    /// shared), 2 the early MLP, 3 a modality alone, 4 network fusion, 5 hybrid, 6 merge, 7 cross-modal fusion.
    /// </summary>
    internal static int CostClass(LeaderboardCandidate c) => c.Kind switch
    {
        CandidateKind.Baseline => 0,
        CandidateKind.SingleModality => 3,
        _ => c.Settings.Family switch
        {
            FusionFamily.Late => 1,
            FusionFamily.Early => 2,
            FusionFamily.Network => 4,
            FusionFamily.Hybrid => 5,
            FusionFamily.Merge => 6,
            _ => 7,
        },
    };

    /// <summary>Whether the candidate trains a TorchSharp network whose epochs the budget scales.</summary>
    internal static bool IsNeural(LeaderboardCandidate c)
        => c.Kind != CandidateKind.Baseline
           && !(c.Settings.Family == FusionFamily.Early && !(SweepParameters.EarlyLearner.TryGet(c.Settings.Parameters, out var learner) && learner == EarlyFusionLearner.FusionMlp));

    /// <summary>
    /// The epochs for a neural candidate: its share of the time left (split over the neural candidates not yet run),
    /// divided by its measured cost per epoch (its class's, else any neural candidate's), between
    /// <see cref="MinimumEpochs"/> and the options' epochs. Before any epoch was measured: the options' epochs.
    /// </summary>
    public int EpochsFor(LeaderboardCandidate c, int fits, int neuralLeft)
    {
        if (!IsNeural(c)) return _maximumEpochs;
        if (PerUnit(c) is not double perEpoch) return _maximumEpochs;
        double share = Left.TotalSeconds * Safety / Math.Max(1, neuralLeft);
        return (int)Math.Clamp(Math.Floor(share / (perEpoch * fits)), MinimumEpochs, _maximumEpochs);
    }

    /// <summary>Why <paramref name="c"/> is skipped (its estimate at <paramref name="epochs"/> exceeds the time left), or <c>null</c> to run it.</summary>
    public string? SkipReason(LeaderboardCandidate c, int fits, int epochs)
    {
        if (Left <= TimeSpan.Zero) return $"skipped: the time limit ({Format(Limit)}) had passed";
        if (PerUnit(c) is not double perUnit) return null;
        double estimate = perUnit * fits * (IsNeural(c) ? epochs : 1);
        return estimate > Left.TotalSeconds
            ? $"skipped: it would not finish within the time limit ({Format(Limit)}): about {Format(TimeSpan.FromSeconds(estimate))} needed, {Format(Left)} left"
            : null;
    }

    /// <summary>
    /// Records a finished candidate's time per fit; a neural one's per epoch only when no epoch of it was recorded as it
    /// ran (<see cref="RecordEpoch"/> measures what an epoch costs, where early stopping makes the planned epochs wrong).
    /// </summary>
    public void Record(LeaderboardCandidate c, TimeSpan elapsed, int fits, int epochs)
    {
        bool neural = IsNeural(c);
        if (neural && _epochsSeen > 0) { _epochsSeen = 0; return; }
        Add(CostClass(c), elapsed.TotalSeconds / (fits * (neural ? Math.Max(1, epochs) : 1)));
        _epochsSeen = 0;
    }

    private int _epochsSeen;
    private TimeSpan _lastEpochElapsed;

    /// <summary>Records one neural epoch as it finishes (its report's elapsed time since the previous epoch of the same fit).</summary>
    public void RecordEpoch(LeaderboardCandidate c, int epoch, TimeSpan elapsed)
    {
        if (!IsNeural(c)) return;
        var cost = epoch <= 1 ? elapsed : elapsed - _lastEpochElapsed;
        _lastEpochElapsed = elapsed;
        if (cost <= TimeSpan.Zero) return;
        Add(CostClass(c), cost.TotalSeconds);
        _epochsSeen++;
    }

    private void Add(int costClass, double seconds)
    {
        lock (_perUnit)
        {
            if (!_perUnit.TryGetValue(costClass, out var list)) _perUnit[costClass] = list = new List<double>();
            list.Add(seconds);
        }
    }

    // The class's median cost per unit; for a neural candidate of a class not measured yet, the dearest neural class
    // measured (the later classes cost more: an estimate on the high side skips rather than overruns).
    private double? PerUnit(LeaderboardCandidate c)
    {
        lock (_perUnit)
        {
            int k = CostClass(c);
            if (_perUnit.TryGetValue(k, out var own) && own.Count > 0) return Median(own);
            if (!IsNeural(c)) return null;
            var neural = _perUnit.Where(p => p.Key is >= 1 and <= 7).Select(p => Median(p.Value)).ToList();
            return neural.Count > 0 ? neural.Max() : null;
        }
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    internal static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:D2}s" : $"{t.TotalSeconds:F0}s";

    public void Dispose() => _expired.Dispose();
}
