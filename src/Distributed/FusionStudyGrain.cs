using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Sweep;

namespace MLNetFusion.Distributed;

/// <summary>The persisted state of a study: its spec, the tuner's history and every trial.</summary>
[GenerateSerializer]
public sealed class FusionStudyState
{
    /// <summary>The study's spec (null before it is submitted).</summary>
    [Id(0)] public FusionStudySpec? Spec { get; set; }
    /// <summary>When it started (UTC).</summary>
    [Id(1)] public DateTime StartedUtc { get; set; }
    /// <summary>The tuner's history: trial ids, positive when proposed, negative (−1 − id) when reported, in order. Replayed on activation to rebuild the tuner.</summary>
    [Id(2)] public List<int> History { get; set; } = new();
    /// <summary>Every trial, by id.</summary>
    [Id(3)] public Dictionary<int, StudyTrial> Trials { get; set; } = new();
    /// <summary>Where the study is.</summary>
    [Id(4)] public StudyPhase Phase { get; set; }
    /// <summary>Why it failed.</summary>
    [Id(5)] public string? Error { get; set; }
    /// <summary>Errors of workers that could not take part.</summary>
    [Id(6)] public Dictionary<string, string> WorkerErrors { get; set; } = new();
    /// <summary>The refitted model's file.</summary>
    [Id(7)] public string? ModelPath { get; set; }
    /// <summary>Trials given to another worker after their worker was lost.</summary>
    [Id(8)] public int Reassignments { get; set; }
    /// <summary>Activations of the study grain.</summary>
    [Id(9)] public int Activations { get; set; }
    /// <summary>The tuner has nothing more to propose.</summary>
    [Id(10)] public bool Exhausted { get; set; }
}

/// <summary>Timing of a study's leases.</summary>
public sealed class FusionStudyOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>How long a lease lasts without a heartbeat.</summary>
        public static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(20);
    }

    /// <summary>A trial (or the refit) whose worker has not sent a heartbeat for this long is given to another worker. Default 20 s.</summary>
    public TimeSpan LeaseTimeout { get; set; } = Defaults.LeaseTimeout;

    /// <summary>Checks every member and throws naming the bad one; changes nothing. <c>AddFusionStudies</c> calls it.</summary>
    public void Validate()
    {
        if (LeaseTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(LeaseTimeout), LeaseTimeout, "FusionStudyOptions.LeaseTimeout must be positive." + Environment.NewLine +
                "Hint: keep it well above the workers' HeartbeatInterval (defaults 20 s and 2 s).");
    }
}

/// <summary>
/// The study grain (see <see cref="IFusionStudyGrain"/>). Its tuner is rebuilt on activation by replaying the persisted
/// history (the proposals and reports in the order they happened, with the study's seeded generator), so a study whose
/// silo restarts resumes where it was: finished trials are kept, trials that were running are given out again.
/// </summary>
public sealed class FusionStudyGrain : Grain, IFusionStudyGrain
{
    /// <summary>The grain storage provider the study persists to.</summary>
    public const string StorageName = "mlnetfusion";

    private readonly IPersistentState<FusionStudyState> _state;
    private readonly ILogger<FusionStudyGrain> _log;
    private readonly FusionStudyOptions _options;
    private readonly Dictionary<int, Lease> _leases = new();
    private Lease? _refitLease;
    private AsyncSuccessiveHalvingTuner? _tuner;
    private FusionSearchSpace? _space;
    private Random? _random;

    private sealed record Lease(string Worker, int Attempt) { public DateTime LastSeen { get; set; } = DateTime.UtcNow; }

    /// <summary>Created by Orleans.</summary>
    public FusionStudyGrain([PersistentState("study", StorageName)] IPersistentState<FusionStudyState> state, ILogger<FusionStudyGrain> log, IOptions<FusionStudyOptions> options,
        ILocalSiloDetails silo)
    {
        _state = state; _log = log; _options = options.Value; _silo = silo.Name;
    }

    private readonly string _silo;

    private FusionStudyState S => _state.State;
    private string StudyId => this.GetPrimaryKeyString();

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (S.Spec == null) return;
        S.Activations++;
        if (S.Phase is StudyPhase.Searching or StudyPhase.Refitting)
        {
            Rebuild(S.Spec, S.History);
            // Trials that were running keep their worker's lease for a while, so a worker that is still alive reports as usual.
            foreach (var t in S.Trials.Values.Where(t => t.Report == null && t.RunningOn != null))
                _leases[t.Trial.TrialId] = new Lease(t.RunningOn!, t.Attempts);
        }
        await _state.WriteStateAsync(cancellationToken);
        _log.LogInformation("Study {Study} activated ({Activations}): {Phase}, {Trials} trials", StudyId, S.Activations, S.Phase, S.Trials.Count);
    }

    /// <inheritdoc />
    public async Task SubmitAsync(FusionStudySpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (S.Spec != null)
        {
            if (!SameSpec(S.Spec, spec))
                throw new InvalidOperationException($"Study '{StudyId}' already exists with another spec." + Environment.NewLine + "Hint: use a new study id for a new search.");
            return;
        }
        spec.Validate();
        Rebuild(spec, Array.Empty<int>());   // reads the data's header here first: an unreadable path fails the submission, not a later call
        S.Spec = spec; S.StartedUtc = DateTime.UtcNow; S.Phase = StudyPhase.Searching; S.Activations = 1;
        await _state.WriteStateAsync();
        await GrainFactory.GetGrain<IFusionStudyRegistryGrain>(0).AddAsync(StudyId);
    }

    private static readonly IReadOnlyDictionary<string, string> NoRoles = new Dictionary<string, string>();

    /// <summary>
    /// Value equality of two specs (the collections by content: a persisted spec comes back as other collection types;
    /// the roles by what they mean, so an older client's <c>ImagePath</c> is the same study as a newer one's <c>Image</c>).
    /// </summary>
    internal static bool SameSpec(FusionStudySpec a, FusionStudySpec b)
        => a with { Roles = NoRoles, Families = null } == b with { Roles = NoRoles, Families = null }
           && a.Roles.Count == b.Roles.Count && a.Roles.All(r => b.Roles.TryGetValue(r.Key, out var v) && SameRole(r.Value, v))
           && (a.Families ?? Array.Empty<string>()).SequenceEqual(b.Families ?? Array.Empty<string>());

    private static bool SameRole(string a, string b)
        => ColumnInferenceOptions.Parse(a) is { } x ? x.Equals(ColumnInferenceOptions.Parse(b)) : string.Equals(a, b, StringComparison.Ordinal);

    /// <summary>The tuner and space from the spec, then the history replayed: every proposal must come out as it was persisted.</summary>
    private void Rebuild(FusionStudySpec spec, IReadOnlyList<int> history)
    {
        try { _space = spec.TrialSearchSpace(spec.OpenDataset()); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            throw new InvalidOperationException($"Silo '{_silo}', which hosts study '{StudyId}', cannot read the data at '{spec.TrainPath}': {ex.Message.Split('\n')[0].TrimEnd('\r')}" + Environment.NewLine +
                "Hint: every silo must see the study's data at the same path (a shared folder or a copy on each machine).", ex);
        }
        _tuner = spec.CreateTuner();
        _random = new Random(spec.Seed);
        foreach (var h in history)
        {
            if (h >= 0)
            {
                var stored = S.Trials[h].Trial;
                var proposed = _tuner.Propose(Context(h));
                if (proposed == null || TrialSpec.From(proposed) is var again && (again.Family != stored.Family || !again.Parameters.OrderBy(p => p.Key).SequenceEqual(stored.Parameters.OrderBy(p => p.Key))))
                    throw new InvalidOperationException($"Study '{StudyId}' cannot resume: replaying its history proposed another trial {h} than the one persisted." + Environment.NewLine +
                        "Hint: resume a study with the MLNetFusion version that started it, or start a new study id.");
            }
            else
            {
                var t = S.Trials[-1 - h];
                _tuner.Report(t.Report!.ToResult(t.Trial.ToSettings(_space)));
            }
        }
    }

    private FusionTuningContext Context(int trialId) => new(_space!, _random!, trialId, S.Spec?.Metric ?? FusionMetric.Accuracy);

    private double Elapsed => (DateTime.UtcNow - S.StartedUtc).TotalSeconds;

    /// <inheritdoc />
    public async Task<StudyAssignment> NextAsync(string worker)
    {
        switch (S.Phase)
        {
            case StudyPhase.New: return new StudyAssignment { Kind = AssignmentKind.Wait };
            case StudyPhase.Done or StudyPhase.Failed: return new StudyAssignment { Kind = AssignmentKind.Finished };
        }
        if (S.WorkerErrors.ContainsKey(worker)) return new StudyAssignment { Kind = AssignmentKind.Finished };
        ExpireLeases();
        var spec = S.Spec!;
        if (S.Phase == StudyPhase.Refitting)
        {
            if (_refitLease != null) return new StudyAssignment { Kind = AssignmentKind.Wait };
            _refitLease = new Lease(worker, 1);
            return new StudyAssignment { Kind = AssignmentKind.Refit, Spec = spec, Trial = S.Trials[BestTrialId()].Trial };
        }
        // A trial whose worker was lost comes first, lowest id first.
        var orphan = S.Trials.Values.Where(t => t.Report == null && !_leases.ContainsKey(t.Trial.TrialId)).OrderBy(t => t.Trial.TrialId).FirstOrDefault();
        if (orphan != null)
        {
            var again = orphan with { Attempts = orphan.Attempts + 1, RunningOn = worker };
            S.Trials[orphan.Trial.TrialId] = again;
            S.Reassignments++;
            _leases[orphan.Trial.TrialId] = new Lease(worker, again.Attempts);
            await _state.WriteStateAsync();
            _log.LogWarning("Study {Study}: trial {Trial} given to {Worker} (attempt {Attempt}) after its worker was lost", StudyId, orphan.Trial.TrialId, worker, again.Attempts);
            return new StudyAssignment { Kind = AssignmentKind.Trial, Spec = spec, Trial = again.Trial, Attempt = again.Attempts };
        }
        int id = S.Trials.Count;
        bool budgetLeft = !S.Exhausted && (spec.MaxTrials is not int max || id < max) && (spec.TimeBudgetSeconds is not double b || Elapsed < b || id == 0);
        if (budgetLeft)
        {
            var settings = _tuner!.Propose(Context(id));
            if (settings != null)
            {
                var trial = new StudyTrial { Trial = TrialSpec.From(settings), Attempts = 1, RunningOn = worker, Rung = _tuner.RungOf(id) };
                S.Trials[id] = trial;
                S.History.Add(id);
                _leases[id] = new Lease(worker, 1);
                await _state.WriteStateAsync();
                return new StudyAssignment { Kind = AssignmentKind.Trial, Spec = spec, Trial = trial.Trial, Attempt = 1 };
            }
            S.Exhausted = true;
        }
        if (S.Trials.Values.Any(t => t.Report == null)) return new StudyAssignment { Kind = AssignmentKind.Wait };
        // The search is over: every proposed trial has its result.
        await EndSearchAsync();
        return await NextAsync(worker);
    }

    private async Task EndSearchAsync()
    {
        if (BestTrialId() < 0)
        {
            var results = S.Trials.Values.OrderBy(t => t.Trial.TrialId).Select(t => t.Report!.ToResult(t.Trial.ToSettings(_space!))).ToList();
            Fail(FusionExperiment.NoTrialCompleted(results).Message);
        }
        else S.Phase = S.Spec!.Refit && S.Spec.ModelFolder != null ? StudyPhase.Refitting : StudyPhase.Done;
        await _state.WriteStateAsync();
    }

    private void Fail(string error) { S.Phase = StudyPhase.Failed; S.Error = error; }

    private void ExpireLeases()
    {
        var now = DateTime.UtcNow;
        foreach (var (id, lease) in _leases.ToList())
            if (now - lease.LastSeen > _options.LeaseTimeout)
            {
                _leases.Remove(id);
                _log.LogWarning("Study {Study}: no heartbeat from {Worker} for trial {Trial} in {Seconds:F0}s; it will be given to another worker", StudyId, lease.Worker, id, (now - lease.LastSeen).TotalSeconds);
            }
        if (_refitLease != null && now - _refitLease.LastSeen > _options.LeaseTimeout) _refitLease = null;
    }

    /// <inheritdoc />
    public Task<bool> HeartbeatAsync(string worker, int trialId, int attempt)
    {
        if (trialId < 0)
        {
            if (_refitLease?.Worker != worker) return Task.FromResult(false);
            _refitLease.LastSeen = DateTime.UtcNow;
            return Task.FromResult(true);
        }
        if (!_leases.TryGetValue(trialId, out var lease) || lease.Worker != worker || lease.Attempt != attempt) return Task.FromResult(false);
        lease.LastSeen = DateTime.UtcNow;
        return Task.FromResult(true);
    }

    /// <inheritdoc />
    public async Task CompleteAsync(string worker, int trialId, int attempt, TrialReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (S.Phase != StudyPhase.Searching || !S.Trials.TryGetValue(trialId, out var trial) || trial.Report != null) return;   // exactly once
        _leases.Remove(trialId);
        var stored = report with { Worker = worker, Attempt = attempt, FinishedAtSeconds = Elapsed };
        S.Trials[trialId] = trial with { Report = stored, RunningOn = null };
        S.History.Add(-1 - trialId);
        _tuner!.Report(stored.ToResult(trial.Trial.ToSettings(_space!)));
        // As the local sweep: when nothing has completed and the same error keeps coming, every configuration would fail.
        var reports = S.Trials.Values.Where(t => t.Report != null).OrderBy(t => t.Report!.FinishedAtSeconds).Select(t => t.Report!).ToList();
        if (reports.All(r => r.Status != FusionTrialStatus.Completed) && reports.Count >= FusionExperiment.RepeatedFailureLimit
            && reports.TakeLast(FusionExperiment.RepeatedFailureLimit).All(r => r.Status == FusionTrialStatus.Failed && r.Error == stored.Error))
            Fail($"The sweep stopped: {FusionExperiment.RepeatedFailureLimit} trials in a row failed with the same error and none has completed, so every configuration would fail." +
                Environment.NewLine + stored.Error + Environment.NewLine + "Hint: fix the cause above (the data or the search space), then run the study again.");
        await _state.WriteStateAsync();
    }

    /// <inheritdoc />
    public async Task RefitCompletedAsync(string worker, string? modelPath, string? error)
    {
        if (S.Phase != StudyPhase.Refitting || _refitLease?.Worker != worker) return;
        if (error != null) Fail($"Refitting the best trial on '{worker}' failed: {error}");
        else { S.ModelPath = modelPath; S.Phase = StudyPhase.Done; }
        _refitLease = null;
        await _state.WriteStateAsync();
    }

    /// <inheritdoc />
    public async Task WorkerFailedAsync(string worker, string error)
    {
        S.WorkerErrors[worker] = error;
        foreach (var (id, lease) in _leases.ToList()) if (lease.Worker == worker) _leases.Remove(id);
        await _state.WriteStateAsync();
    }

    private int BestTrialId()
    {
        var metric = S.Spec!.Metric;
        int best = -1; double bestValue = double.NaN;
        foreach (var t in S.Trials.Values.OrderBy(t => t.Trial.TrialId))
            if (t.Report is { Status: FusionTrialStatus.Completed } r && (best < 0 || (metric == FusionMetric.LogLoss ? r.Metric < bestValue : r.Metric > bestValue)))
                (best, bestValue) = (t.Trial.TrialId, r.Metric);
        return best;
    }

    /// <inheritdoc />
    public Task<StudySnapshot> GetSnapshotAsync() => Task.FromResult(new StudySnapshot
    {
        StudyId = StudyId, Phase = S.Phase, Trials = S.Trials.Values.OrderBy(t => t.Trial.TrialId).ToList(), BestTrialId = S.Spec == null ? -1 : BestTrialId(),
        Error = S.Error, WorkerErrors = new Dictionary<string, string>(S.WorkerErrors), ModelPath = S.ModelPath,
        ElapsedSeconds = S.Spec == null ? 0 : Elapsed, Reassignments = S.Reassignments, Activations = S.Activations,
    });
}

/// <summary>The registry of studies (see <see cref="IFusionStudyRegistryGrain"/>), persisted.</summary>
public sealed class FusionStudyRegistryGrain : Grain, IFusionStudyRegistryGrain
{
    private readonly IPersistentState<List<string>> _studies;

    /// <summary>Created by Orleans.</summary>
    public FusionStudyRegistryGrain([PersistentState("studies", FusionStudyGrain.StorageName)] IPersistentState<List<string>> studies) => _studies = studies;

    /// <inheritdoc />
    public async Task AddAsync(string studyId)
    {
        if (_studies.State.Contains(studyId)) return;
        _studies.State.Add(studyId);
        await _studies.WriteStateAsync();
    }

    /// <inheritdoc />
    public async Task RemoveAsync(string studyId)
    {
        if (_studies.State.Remove(studyId)) await _studies.WriteStateAsync();
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ActiveAsync() => Task.FromResult<IReadOnlyList<string>>(_studies.State.ToList());
}
