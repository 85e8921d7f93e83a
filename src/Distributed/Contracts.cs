using System.Globalization;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Trainers;

namespace MLNetFusion.Distributed;

/// <summary>
/// The grain that owns one distributed study (its key is the study id): the tuner, the rungs of asynchronous
/// successive halving, the leaderboard and the best trial, persisted after every change. Workers pull trials from it
/// (<see cref="NextAsync"/>), keep their lease alive (<see cref="HeartbeatAsync"/>) and report (<see cref="CompleteAsync"/>);
/// a trial whose worker stops sending heartbeats is given to another worker.
/// </summary>
public interface IFusionStudyGrain : IGrainWithStringKey
{
    /// <summary>Starts the study (idempotent: submitting the same spec again is a no-op; another spec under the same id is an error).</summary>
    Task SubmitAsync(FusionStudySpec spec);

    /// <summary>The next piece of work for <paramref name="worker"/>: a trial, the final refit, or nothing for now (<see cref="StudyAssignment.Kind"/>).</summary>
    Task<StudyAssignment> NextAsync(string worker);

    /// <summary>Keeps <paramref name="worker"/>'s lease on a trial alive; <c>false</c> when the lease is gone (the trial was completed elsewhere or given to another worker): stop it.</summary>
    Task<bool> HeartbeatAsync(string worker, int trialId, int attempt);

    /// <summary>Reports a trial's result (the first report of a trial counts; later ones are ignored, so the leaderboard has every trial once).</summary>
    Task CompleteAsync(string worker, int trialId, int attempt, TrialReport report);

    /// <summary>Reports the refit's model file.</summary>
    Task RefitCompletedAsync(string worker, string? modelPath, string? error);

    /// <summary>A worker cannot take part (for example it cannot read the data): the study records the error, naming the worker.</summary>
    Task WorkerFailedAsync(string worker, string error);

    /// <summary>The study's state: phase, leaderboard, trials in flight, errors.</summary>
    Task<StudySnapshot> GetSnapshotAsync();
}

/// <summary>The studies workers look for work in (one grain, key 0).</summary>
public interface IFusionStudyRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Adds a study.</summary>
    Task AddAsync(string studyId);
    /// <summary>Removes a finished study.</summary>
    Task RemoveAsync(string studyId);
    /// <summary>The studies that may have work.</summary>
    Task<IReadOnlyList<string>> ActiveAsync();
}

/// <summary>Where a study is.</summary>
public enum StudyPhase
{
    /// <summary>Not submitted.</summary>
    New,
    /// <summary>Trials are being proposed and run.</summary>
    Searching,
    /// <summary>The search is over; the best configuration is being refitted on all training rows.</summary>
    Refitting,
    /// <summary>Finished: the leaderboard is complete.</summary>
    Done,
    /// <summary>Stopped by an error (<see cref="StudySnapshot.Error"/>).</summary>
    Failed,
}

/// <summary>What a worker is given.</summary>
public enum AssignmentKind
{
    /// <summary>Nothing now; ask again shortly.</summary>
    Wait,
    /// <summary>Run a trial.</summary>
    Trial,
    /// <summary>Refit the best trial on all training rows and write the model.</summary>
    Refit,
    /// <summary>The study is over: stop asking it.</summary>
    Finished,
}

/// <summary>A piece of work for a worker.</summary>
[GenerateSerializer, Immutable]
public sealed record StudyAssignment
{
    /// <summary>What to do.</summary>
    [Id(0)] public AssignmentKind Kind { get; init; }
    /// <summary>The study's spec (for <see cref="AssignmentKind.Trial"/> and <see cref="AssignmentKind.Refit"/>).</summary>
    [Id(1)] public FusionStudySpec? Spec { get; init; }
    /// <summary>The trial (or, for a refit, the best trial).</summary>
    [Id(2)] public TrialSpec? Trial { get; init; }
    /// <summary>Which attempt at the trial this is (a trial given again after its worker was lost has a higher attempt).</summary>
    [Id(3)] public int Attempt { get; init; }
}

/// <summary>A trial's settings as values: family, parameters as invariant strings.</summary>
[GenerateSerializer, Immutable]
public sealed record TrialSpec
{
    /// <summary>The trial id.</summary>
    [Id(0)] public int TrialId { get; init; }
    /// <summary>The family's name.</summary>
    [Id(1)] public required string Family { get; init; }
    /// <summary>Parameter name → value (invariant culture; enums by name).</summary>
    [Id(2)] public required IReadOnlyDictionary<string, string> Parameters { get; init; }

    /// <summary>Encodes <paramref name="settings"/>.</summary>
    public static TrialSpec From(FusionTrialSettings settings) => new()
    {
        TrialId = settings.TrialId, Family = settings.Family.Name(),
        Parameters = settings.Parameters.ToDictionary(p => p.Key, p => p.Value switch
        {
            double d => d.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            var o => o.ToString() ?? "",
        }),
    };

    /// <summary>Decodes the settings, each value typed as <paramref name="space"/>'s dimension of that name is.</summary>
    /// <exception cref="InvalidOperationException">A parameter the space does not have (the study and the worker were built from different versions).</exception>
    public FusionTrialSettings ToSettings(FusionSearchSpace space)
    {
        var family = FusionFamilies.Parse(Family);
        var values = new Dictionary<string, object>();
        foreach (var (name, text) in Parameters)
        {
            var dim = space.DimensionNamed(name)
                ?? throw new InvalidOperationException($"Trial {TrialId} has parameter '{name}', which the search space of family {Family} does not have." + Environment.NewLine +
                    "Hint: run the study and its workers with the same MLNetFusion version.");
            var type = dim.Default.GetType();
            values[name] = type.IsEnum ? Enum.Parse(type, text) : Convert.ChangeType(text, type, CultureInfo.InvariantCulture);
        }
        return new FusionTrialSettings(TrialId, family, values);
    }
}

/// <summary>A trial's result as values (what a worker reports and the study persists).</summary>
[GenerateSerializer, Immutable]
public sealed record TrialReport
{
    /// <summary>How it ended.</summary>
    [Id(0)] public FusionTrialStatus Status { get; init; }
    /// <summary>See <see cref="FusionTrialResult.Metric"/>.</summary>
    [Id(1)] public double Metric { get; init; } = double.NaN;
    /// <summary>See <see cref="FusionTrialResult.ValidationMetric"/>.</summary>
    [Id(2)] public double ValidationMetric { get; init; } = double.NaN;
    /// <summary>See <see cref="FusionTrialResult.WorstMissingModalityMetric"/>.</summary>
    [Id(3)] public double WorstMissingModalityMetric { get; init; } = double.NaN;
    /// <summary>Micro-accuracy.</summary>
    [Id(4)] public double Accuracy { get; init; } = double.NaN;
    /// <summary>Macro-accuracy.</summary>
    [Id(5)] public double MacroAccuracy { get; init; } = double.NaN;
    /// <summary>Log-loss.</summary>
    [Id(6)] public double LogLoss { get; init; } = double.NaN;
    /// <summary>Macro-F1.</summary>
    [Id(7)] public double MacroF1 { get; init; } = double.NaN;
    /// <summary>Training and evaluation seconds on the worker.</summary>
    [Id(8)] public double Seconds { get; init; }
    /// <summary>Epochs trained.</summary>
    [Id(9)] public int EpochsTrained { get; init; }
    /// <summary>Why it failed or stopped.</summary>
    [Id(10)] public string? Error { get; init; }
    /// <summary>The worker that ran it.</summary>
    [Id(11)] public string? Worker { get; init; }
    /// <summary>The trial's model file, when one was written (hold-out studies with a model folder).</summary>
    [Id(12)] public string? ModelPath { get; init; }
    /// <summary>Seconds from the study's start to the report (set by the study).</summary>
    [Id(13)] public double FinishedAtSeconds { get; init; }
    /// <summary>The attempt that produced it.</summary>
    [Id(14)] public int Attempt { get; init; }

    /// <summary>Encodes a local result.</summary>
    public static TrialReport From(FusionTrialResult r, string worker, string? modelPath = null) => new()
    {
        Status = r.Status, Metric = r.Metric, ValidationMetric = r.ValidationMetric, WorstMissingModalityMetric = r.WorstMissingModalityMetric,
        Accuracy = r.Accuracy, MacroAccuracy = r.MacroAccuracy, LogLoss = r.LogLoss, MacroF1 = r.MacroF1, Seconds = r.Duration.TotalSeconds,
        EpochsTrained = r.EpochsTrained, Error = r.Error, Worker = worker, ModelPath = modelPath,
    };

    /// <summary>The sweep's result type, with <paramref name="settings"/>.</summary>
    public FusionTrialResult ToResult(FusionTrialSettings settings) => new()
    {
        Settings = settings, Status = Status, Metric = Metric, ValidationMetric = ValidationMetric, WorstMissingModalityMetric = WorstMissingModalityMetric,
        Accuracy = Accuracy, MacroAccuracy = MacroAccuracy, LogLoss = LogLoss, MacroF1 = MacroF1, Duration = TimeSpan.FromSeconds(Seconds),
        FinishedAt = TimeSpan.FromSeconds(FinishedAtSeconds), EpochsTrained = EpochsTrained, Error = Error,
    };
}

/// <summary>One row of a study's leaderboard.</summary>
[GenerateSerializer, Immutable]
public sealed record StudyTrial
{
    /// <summary>The trial.</summary>
    [Id(0)] public required TrialSpec Trial { get; init; }
    /// <summary>Its result (null while it runs).</summary>
    [Id(1)] public TrialReport? Report { get; init; }
    /// <summary>The worker running it (while it runs).</summary>
    [Id(2)] public string? RunningOn { get; init; }
    /// <summary>Attempts so far (more than 1 when a worker was lost during it).</summary>
    [Id(3)] public int Attempts { get; init; }
    /// <summary>The asynchronous successive halving rung (-1 for a family's defaults).</summary>
    [Id(4)] public int Rung { get; init; }
}

/// <summary>A study's state, as the client sees it.</summary>
[GenerateSerializer, Immutable]
public sealed record StudySnapshot
{
    /// <summary>The study id.</summary>
    [Id(0)] public required string StudyId { get; init; }
    /// <summary>Where it is.</summary>
    [Id(1)] public StudyPhase Phase { get; init; }
    /// <summary>Every trial proposed, in proposal order.</summary>
    [Id(2)] public IReadOnlyList<StudyTrial> Trials { get; init; } = Array.Empty<StudyTrial>();
    /// <summary>The best completed trial's id, or -1.</summary>
    [Id(3)] public int BestTrialId { get; init; } = -1;
    /// <summary>Why the study failed.</summary>
    [Id(4)] public string? Error { get; init; }
    /// <summary>Errors of workers that could not take part, by worker.</summary>
    [Id(5)] public IReadOnlyDictionary<string, string> WorkerErrors { get; init; } = new Dictionary<string, string>();
    /// <summary>The refitted model's file, when written.</summary>
    [Id(6)] public string? ModelPath { get; init; }
    /// <summary>Seconds since the study started.</summary>
    [Id(7)] public double ElapsedSeconds { get; init; }
    /// <summary>How many times a trial was given to another worker because its worker was lost.</summary>
    [Id(8)] public int Reassignments { get; init; }
    /// <summary>How many times the study grain was activated (more than 1 after a restart of its silo: it resumed from its persisted state).</summary>
    [Id(9)] public int Activations { get; init; }
}
