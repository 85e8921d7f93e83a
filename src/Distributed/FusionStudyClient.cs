using MLNetFusion.AutoML.Sweep;

namespace MLNetFusion.Distributed;

/// <summary>The leaderboard of a finished distributed study, as the local sweep's result types.</summary>
/// <param name="Snapshot">The study's final state (workers, attempts, rungs, errors).</param>
/// <param name="Trials">Every trial, in proposal order, as <see cref="FusionTrialResult"/>.</param>
/// <param name="BestTrial">The best completed trial.</param>
public sealed record FusionStudyResult(StudySnapshot Snapshot, IReadOnlyList<FusionTrialResult> Trials, FusionTrialResult BestTrial)
{
    /// <summary>The refitted model's file (null when the study has no model folder or no refit).</summary>
    public string? ModelPath => Snapshot.ModelPath;
}

/// <summary>
/// Submits a study to a cluster and waits for it (the client side of <c>mlnetfusion sweep --cluster</c>): the study grain
/// runs the search, worker silos the trials.
/// </summary>
public sealed class FusionStudyClient
{
    private readonly IGrainFactory _grains;

    /// <summary>Creates the client over a connected cluster client (or a silo's grain factory).</summary>
    public FusionStudyClient(IGrainFactory grains) => _grains = grains ?? throw new ArgumentNullException(nameof(grains));

    /// <summary>The study grain of <paramref name="studyId"/>.</summary>
    public IFusionStudyGrain Study(string studyId) => _grains.GetGrain<IFusionStudyGrain>(studyId);

    /// <summary>
    /// Submits <paramref name="spec"/> as <paramref name="studyId"/> (resuming it if it exists with the same spec) and
    /// polls until it is done, reporting each snapshot to <paramref name="progress"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The study failed, or a worker cannot read the data (the message names the worker and the path).</exception>
    public async Task<FusionStudyResult> RunAsync(string studyId, FusionStudySpec spec, IProgress<StudySnapshot>? progress = null,
        TimeSpan? pollInterval = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var study = Study(studyId);
        await study.SubmitAsync(spec);
        var interval = pollInterval ?? TimeSpan.FromSeconds(1);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            StudySnapshot s;
            try { s = await study.GetSnapshotAsync(); }
            catch (Exception ex) when (ex is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // The silo hosting the study may have been lost: the grain is activated elsewhere from its persisted state.
                await Task.Delay(interval, cancellationToken);
                continue;
            }
            progress?.Report(s);
            if (s.WorkerErrors.Count > 0)
                throw new InvalidOperationException(s.WorkerErrors.First().Value);
            if (s.Phase == StudyPhase.Failed) throw new InvalidOperationException($"Study '{studyId}' failed: {s.Error}");
            if (s.Phase == StudyPhase.Done)
            {
                await _grains.GetGrain<IFusionStudyRegistryGrain>(0).RemoveAsync(studyId);
                return ToResult(s, spec);
            }
            await Task.Delay(interval, cancellationToken);
        }
    }

    /// <summary>The snapshot's trials as the sweep's result types (the settings typed by the study's search space).</summary>
    public static FusionStudyResult ToResult(StudySnapshot snapshot, FusionStudySpec spec)
    {
        var space = spec.TrialSearchSpace(spec.OpenDataset());
        var trials = snapshot.Trials.Where(t => t.Report != null).Select(t => t.Report!.ToResult(t.Trial.ToSettings(space))).ToList();
        var best = trials.FirstOrDefault(t => t.Settings.TrialId == snapshot.BestTrialId)
            ?? throw new InvalidOperationException($"Study '{snapshot.StudyId}' has no completed trial.");
        return new FusionStudyResult(snapshot, trials, best);
    }
}
