using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
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

/// <summary>
/// A started Orleans client of an MLNetFusion cluster (Redis membership), what <c>mlnetfusion sweep --cluster</c>, the
/// distributed bench and the tests connect with. Dispose it to leave the cluster.
/// </summary>
public sealed class FusionClusterConnection : IAsyncDisposable, IDisposable
{
    private readonly IHost _host;

    private FusionClusterConnection(IHost host)
    {
        _host = host;
        Studies = new FusionStudyClient(host.Services.GetRequiredService<IClusterClient>());
    }

    /// <summary>The study client over this connection.</summary>
    public FusionStudyClient Studies { get; }

    /// <summary>
    /// How long <see cref="ConnectAsync"/> waits for a gateway by default: 2 minutes. A worker that was just started
    /// loads .NET, libtorch and Orleans before it registers, which took more than 30 s here while the cores were busy.
    /// </summary>
    public static readonly TimeSpan DefaultWaitForCluster = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Connects to the cluster <paramref name="clusterId"/> whose membership is in <paramref name="redis"/>, retrying for
    /// up to <paramref name="waitForCluster"/> (default <see cref="DefaultWaitForCluster"/>: workers that were just started
    /// need time to register), and reporting each failed attempt to <paramref name="progress"/> with the time waited.
    /// </summary>
    /// <exception cref="InvalidOperationException">No silo answered in time; the message names the cluster and says what to start.</exception>
    public static async Task<FusionClusterConnection> ConnectAsync(string redis, string clusterId = FusionOrleansExtensions.DefaultClusterId,
        TimeSpan? waitForCluster = null, CancellationToken cancellationToken = default, Action<TimeSpan, string>? progress = null)
    {
        var wait = waitForCluster ?? DefaultWaitForCluster;
        if (wait <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(waitForCluster), wait, "The wait for the cluster must be positive.");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.UseOrleansClient(c => c.UseFusionCluster(redis, clusterId));
            var host = builder.Build();
            // Each attempt is bounded (Orleans' client otherwise keeps retrying on its own for minutes), so the wait is what
            // the caller asked for and progress comes every few seconds.
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(Clamp(wait - clock.Elapsed, TimeSpan.FromSeconds(1), wait < TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(10)));
            string why;
            try
            {
                await host.StartAsync(attempt.Token);
                return new FusionClusterConnection(host);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                why = "no gateway answered yet";
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                why = ex.Message.Split('\n')[0].TrimEnd();
            }
            try { await HostingAbstractionsHostExtensions.StopAsync(host, TimeSpan.FromSeconds(2)); } catch (Exception ex) when (ex is not OutOfMemoryException) { }
            host.Dispose();
            if (clock.Elapsed >= wait)
                throw new InvalidOperationException($"Cannot join the cluster '{clusterId}' at '{redis}' within {wait.TotalSeconds:F0} s: {why}" + Environment.NewLine +
                    $"Hint: start Redis and at least one `mlnetfusion worker --cluster redis://{FusionOrleansExtensions.ParseRedis(redis)} --cluster-id {clusterId}` first " +
                    "(on a busy machine a worker can take a minute to register; a longer wait is --cluster-timeout).");
            progress?.Invoke(clock.Elapsed, why);
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try { await HostingAbstractionsHostExtensions.StopAsync(_host, TimeSpan.FromSeconds(10)); } finally { _host.Dispose(); }
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
