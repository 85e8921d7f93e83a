using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Datasets;
using MLNetFusion.Runtime;

namespace MLNetFusion.Distributed;

/// <summary>How a worker silo takes part in studies.</summary>
public sealed class FusionWorkerOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>How often an idle worker asks for work.</summary>
        public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
        /// <summary>How often a running trial's lease is renewed.</summary>
        public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(2);
        /// <summary>How long a finished trial's result is retried while the study is unreachable.</summary>
        public static readonly TimeSpan DeliveryTimeout = TimeSpan.FromMinutes(2);
    }

    /// <summary>The worker's name in leases, the leaderboard and errors. Default: <c>machine:process id</c>.</summary>
    public string Name { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}";
    /// <summary>How often an idle worker asks for work. Default 1 s.</summary>
    public TimeSpan PollInterval { get; set; } = Defaults.PollInterval;
    /// <summary>How often a running trial's lease is renewed (well below <see cref="FusionStudyOptions.LeaseTimeout"/>). Default 2 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = Defaults.HeartbeatInterval;
    /// <summary>Torch's intra-op threads in this process (0, the default: leave them as they are). With several workers on one machine, give each its cores divided by the workers, so they do not oversubscribe them.</summary>
    public int TorchThreads { get; set; }
    /// <summary>How long a finished trial's result is retried while the study is unreachable (its host silo lost). Default 2 minutes.</summary>
    public TimeSpan DeliveryTimeout { get; set; } = Defaults.DeliveryTimeout;
    /// <summary>Whether this silo runs trials (default true); false makes it a host of the study grains only.</summary>
    public bool RunTrials { get; set; } = true;

    /// <summary>Checks every member and throws naming the bad one; changes nothing. <c>AddFusionWorker</c> calls it.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
            throw new ArgumentException("FusionWorkerOptions.Name is required." + Environment.NewLine + "Hint: leave the default (machine:process id) or give each worker a name of its own.", nameof(Name));
        foreach (var (name, value) in new[] { (nameof(PollInterval), PollInterval), (nameof(HeartbeatInterval), HeartbeatInterval), (nameof(DeliveryTimeout), DeliveryTimeout) })
            if (value <= TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(name, value, $"FusionWorkerOptions.{name} must be positive." + Environment.NewLine + "Hint: the defaults are 1 s, 2 s and 2 minutes.");
        if (TorchThreads < 0)
            throw new ArgumentOutOfRangeException(nameof(TorchThreads), TorchThreads, "FusionWorkerOptions.TorchThreads must be 0 (leave them) or positive." + Environment.NewLine + "Hint: give each worker on a machine its cores divided by the workers.");
    }
}

/// <summary>
/// Runs trials on a silo: asks the registered studies for work, prepares each study's data once (the same
/// <see cref="FusionExperiment.Prepare"/> as the local sweep), runs the trial while renewing its lease, and reports the
/// result. A trial whose lease is lost (the study gave it to another worker) is cancelled. Registered by
/// <see cref="FusionOrleansExtensions.AddFusionWorker"/>.
/// </summary>
public sealed class FusionWorker : BackgroundService
{
    private readonly IGrainFactory _grains;
    private readonly FusionWorkerOptions _options;
    private readonly ILogger<FusionWorker> _log;
    private readonly Dictionary<string, Prepared> _prepared = new();
    private readonly HashSet<string> _finished = new();

    private sealed record Prepared(MLContext Ml, FusionTrialRunner Runner, MultimodalDataset Dataset, FusionExperiment Experiment);

    /// <summary>Created by the host.</summary>
    public FusionWorker(IGrainFactory grains, IOptions<FusionWorkerOptions> options, ILogger<FusionWorker> log)
    {
        _grains = grains; _options = options.Value; _log = log;
    }

    /// <summary>Trials this worker has finished (reported), for monitoring.</summary>
    public int TrialsRun { get; private set; }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.RunTrials) return;
        if (_options.TorchThreads > 0) TorchRuntime.SetThreads(_options.TorchThreads);
        while (!stoppingToken.IsCancellationRequested)
        {
            bool worked = false;
            try
            {
                var studies = await _grains.GetGrain<IFusionStudyRegistryGrain>(0).ActiveAsync();
                foreach (var id in studies)
                {
                    if (_finished.Contains(id)) continue;
                    worked |= await WorkOnAsync(id, stoppingToken);
                    if (stoppingToken.IsCancellationRequested) break;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception ex)
            {
                // The cluster may be changing (a silo joining or lost): try again after a pause.
                _log.LogWarning("Worker {Worker}: {Error}; retrying", _options.Name, ex.Message);
            }
            if (!worked)
                try { await Task.Delay(_options.PollInterval, stoppingToken); } catch (OperationCanceledException) { break; }
        }
    }

    private async Task<bool> WorkOnAsync(string studyId, CancellationToken stop)
    {
        var study = _grains.GetGrain<IFusionStudyGrain>(studyId);
        var next = await study.NextAsync(_options.Name);
        switch (next.Kind)
        {
            case AssignmentKind.Finished:
                _finished.Add(studyId);
                _prepared.Remove(studyId);
                return false;
            case AssignmentKind.Wait:
                return false;
        }
        Prepared prepared;
        try { prepared = Prepare(studyId, next.Spec!); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or FormatException)
        {
            var message = $"Worker '{_options.Name}' cannot read the data of study '{studyId}' at '{next.Spec!.TrainPath}': {FirstLine(ex.Message)}" + Environment.NewLine +
                "Hint: every silo must see the study's data at the same path (a shared folder or a copy on each machine).";
            _log.LogError("{Message}", message);
            await study.WorkerFailedAsync(_options.Name, message);
            _finished.Add(studyId);
            return false;
        }
        if (next.Kind == AssignmentKind.Refit) await RefitAsync(study, studyId, next, prepared, stop);
        else await RunTrialAsync(study, studyId, next, prepared, stop);
        return true;
    }

    private static string FirstLine(string s) => s.Split('\n')[0].TrimEnd('\r');

    private Prepared Prepare(string studyId, FusionStudySpec spec)
    {
        if (_prepared.TryGetValue(studyId, out var p)) return p;
        var ml = new MLContext(spec.Seed);
        var dataset = spec.OpenDataset();
        var (experiment, _) = spec.CreateExperiment(ml, dataset);
        var runner = experiment.Prepare();
        _log.LogInformation("Worker {Worker}: study {Study} prepared ({Splits} splits)", _options.Name, studyId, runner.SplitCount);
        _prepared.Clear();   // one study's features in memory at a time
        return _prepared[studyId] = new Prepared(ml, runner, dataset, experiment);
    }

    private async Task RunTrialAsync(IFusionStudyGrain study, string studyId, StudyAssignment next, Prepared p, CancellationToken stop)
    {
        var settings = next.Trial!.ToSettings(p.Runner.SearchSpace);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        string? modelPath = null;
        var spec = next.Spec!;
        var run = Task.Factory.StartNew(() => p.Runner.Run(settings, model =>
        {
            if (spec.ModelFolder == null) return;
            modelPath = Path.Combine(spec.ModelFolder, studyId, $"trial-{settings.TrialId}.zip");
            Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
            p.Ml.Model.SaveFusionModel(model, p.Runner.FeatureSchema, modelPath);
        }, null, cancel.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        while (await Task.WhenAny(run, Task.Delay(_options.HeartbeatInterval, CancellationToken.None)) != run)
        {
            bool keep;
            try { keep = await study.HeartbeatAsync(_options.Name, settings.TrialId, next.Attempt); }
            catch (Exception ex) { _log.LogWarning("Worker {Worker}: heartbeat failed ({Error})", _options.Name, ex.Message); continue; }
            if (!keep)
            {
                _log.LogWarning("Worker {Worker}: lease on trial {Trial} lost; stopping it", _options.Name, settings.TrialId);
                cancel.Cancel();
            }
        }
        var result = await run;
        if (stop.IsCancellationRequested) return;   // this silo is stopping: the trial will be given to another worker
        var report = TrialReport.From(result, _options.Name, modelPath);
        await DeliverAsync(() => study.CompleteAsync(_options.Name, settings.TrialId, next.Attempt, report), $"trial {settings.TrialId}'s result", stop);
        TrialsRun++;
    }

    private async Task RefitAsync(IFusionStudyGrain study, string studyId, StudyAssignment next, Prepared p, CancellationToken stop)
    {
        var settings = next.Trial!.ToSettings(p.Runner.SearchSpace);
        var spec = next.Spec!;
        var run = Task.Factory.StartNew(() =>
        {
            // As `mlnetfusion fit` saves: the feature chain (it reads neither the label nor the group), the trainer, the label's values.
            var ml = p.Ml;
            var raw = p.Dataset.Load(ml, p.Dataset.Columns.Path);
            var labelled = p.Dataset.LabelToKey(ml).Fit(raw).Transform(raw);
            var featurizer = p.Dataset.FeatureChain(ml).Fit(labelled);
            var select = ml.Transforms.SelectColumns(p.Dataset.KeptColumns.ToArray()).Fit(featurizer.Transform(labelled));
            var train = ml.Data.Cache(select.Transform(featurizer.Transform(labelled)));
            var trainer = p.Experiment.CreateEstimator(settings).Fit(train);
            var toValue = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(trainer.Transform(train));
            using var model = new TransformerChain<ITransformer>(featurizer, trainer, toValue);
            var path = Path.Combine(spec.ModelFolder!, studyId, "model.zip");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            ml.Model.SaveFusionModel(model, raw.Schema, path);
            return path;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        while (await Task.WhenAny(run, Task.Delay(_options.HeartbeatInterval, CancellationToken.None)) != run)
            try { await study.HeartbeatAsync(_options.Name, -1, 1); } catch (Exception ex) { _log.LogWarning("Worker {Worker}: heartbeat failed ({Error})", _options.Name, ex.Message); }
        string? modelPath = null, error = null;
        try { modelPath = await run; } catch (Exception ex) { error = ex.Message; }
        if (stop.IsCancellationRequested) return;
        await DeliverAsync(() => study.RefitCompletedAsync(_options.Name, modelPath, error), "the refit's model", stop);
    }

    /// <summary>
    /// Sends a finished piece of work to the study, retrying while the study grain is unreachable (its silo was lost and
    /// it is being activated elsewhere from its persisted state): a result is not thrown away because of that. Gives up
    /// after <see cref="FusionWorkerOptions.DeliveryTimeout"/>; the study then gives the trial to another worker.
    /// </summary>
    private async Task DeliverAsync(Func<Task> send, string what, CancellationToken stop)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int attempt = 1; ; attempt++)
        {
            try { await send(); return; }
            catch (Exception ex) when (ex is not OperationCanceledException && clock.Elapsed < _options.DeliveryTimeout && !stop.IsCancellationRequested)
            {
                _log.LogWarning("Worker {Worker}: sending {What} failed (attempt {Attempt}: {Error}); retrying", _options.Name, what, attempt, FirstLine(ex.Message));
                try { await Task.Delay(_options.PollInterval, stop); } catch (OperationCanceledException) { return; }
            }
        }
    }
}
