using MLNetFusion.Trainers.Early;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Models;
using MLNetFusion.Training;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

/// <summary>
/// An AutoML-style search over fusion families and their hyperparameters. Create it with
/// <c>mlContext.Fusion().CreateExperiment()</c>, configure it with the <c>Set…</c> methods (as AutoML's
/// <c>AutoMLExperiment</c>), then <see cref="RunAsync"/>. Sample: <c>src/Samples/SweepSample.cs</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Data</term><description>The feature pipeline is fitted once per split (on its training rows) and its output cached; every trial trains on those features.</description></item>
/// <item><term>Trials</term><description>One at a time; each trial gets its own seed derived from the experiment's seed, so a seed and a trial budget reproduce the same leaderboard.</description></item>
/// <item><term>Budgets</term><description>A time budget cancels the running TorchSharp trial when it ends (ML.NET trainers finish their fit), so the run ends within one trial's length of the budget; the first trial always finishes, so there is a model to return.</description></item>
/// <item><term>Memory</term><description>Only the best trial's model is kept; others are disposed when they finish.</description></item>
/// <item><term>Parts</term><description>This class is the builder and the trial loop (budget, failure policy, best model); the
/// splits come from a split plan set by <c>SetDataset</c>, and each trial is run by a <see cref="FusionTrialRunner"/>
/// (<see cref="Prepare"/>), the same one a distributed worker runs.</description></item>
/// </list>
/// </remarks>
public sealed class FusionExperiment
{
    private readonly MLContext _ml;
    private IEstimator<ITransformer>? _features;
    private readonly List<ModalityOptions> _modalities = new();
    private FusionSplitPlan? _plan;
    private FusionMetric _metric = FusionMetric.Accuracy;
    private string _label = TorchTrainerOptions.Defaults.LabelColumnName;
    private TimeSpan? _timeBudget;
    private int? _maxTrials;
    private int _seed;
    private IFusionTuner? _tuner;
    private readonly List<IFusionMonitor> _monitors = new();
    private bool _refit;
    private double _robustness;

    internal FusionExperiment(MLContext ml, int seed) { _ml = ml; _seed = seed; }

    /// <summary>The search space; narrow or widen it in place, or replace it with <see cref="SetSearchSpace"/>.</summary>
    public FusionSearchSpace SearchSpace { get; private set; } = new();

    /// <summary>The featurization applied before every trial (e.g. image, audio and tabular transforms). Default: none (the data is already featurized).</summary>
    public FusionExperiment SetFeaturePipeline(IEstimator<ITransformer> pipeline) { _features = pipeline ?? throw new ArgumentNullException(nameof(pipeline)); return this; }

    /// <summary>The modality columns (after the feature pipeline) and their encoders.</summary>
    public FusionExperiment SetModalities(params ModalityOptions[] modalities)
    {
        _modalities.Clear();
        _modalities.AddRange(modalities.Select(m => m.Clone()));
        return this;
    }

    /// <summary>Selects trials on <paramref name="validation"/>; both are fed to the feature pipeline.</summary>
    /// <remarks>When the model will be used on groups it never saw (new speakers, sites, patients), make sure no group of
    /// <paramref name="validation"/> appears in <paramref name="train"/>, or use an overload with <c>samplingKeyColumnName</c>.</remarks>
    public FusionExperiment SetDataset(IDataView train, IDataView validation)
    {
        _plan = FusionSplitPlan.Given(train ?? throw new ArgumentNullException(nameof(train)), validation ?? throw new ArgumentNullException(nameof(validation)));
        return this;
    }

    /// <summary>
    /// Selects trials by k-fold cross-validation on <paramref name="data"/> (the final model is then always refitted on
    /// all of it), as AutoML's <c>SetDataset(dataset, fold, samplingKeyColumnName)</c>.
    /// </summary>
    /// <param name="data">The data, before the feature pipeline.</param>
    /// <param name="folds">Number of folds (at least 2; with a sampling key, at most the number of groups).</param>
    /// <param name="samplingKeyColumnName">A column naming each row's group (speaker, microphone, patient, site). When
    /// given, folds are made of whole groups, so every trial is validated on groups it did not train on: the measure that
    /// matters when the model will be used on new groups. With as many folds as groups this is leave-one-group-out. It is
    /// also passed to late fusion, whose out-of-fold weights and stacking are then grouped too. The key may be text, a
    /// key type or numeric; missing values form one group.</param>
    public FusionExperiment SetDataset(IDataView data, int folds = 5, string? samplingKeyColumnName = null)
    {
        if (folds < 2) throw new ArgumentOutOfRangeException(nameof(folds), folds, "Cross-validation needs at least 2 folds.");
        _plan = FusionSplitPlan.Folds(data ?? throw new ArgumentNullException(nameof(data)), folds, samplingKeyColumnName);
        return this;
    }

    /// <summary>
    /// Selects trials on a validation split of <paramref name="data"/> made of whole groups of
    /// <paramref name="samplingKeyColumnName"/>: groups, in a seeded order, are held out until they hold at least
    /// <paramref name="validationFraction"/> of the rows (at least one group, never all). No validation row shares a group
    /// with the training rows. One fit per trial, so cheaper than grouped folds, but the selection then rests on the
    /// held-out groups only. The final model is refitted on all of <paramref name="data"/>.
    /// </summary>
    public FusionExperiment SetDataset(IDataView data, double validationFraction, string samplingKeyColumnName)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must be in (0, 1).");
        _plan = FusionSplitPlan.HoldOut(data ?? throw new ArgumentNullException(nameof(data)), validationFraction,
            samplingKeyColumnName ?? throw new ArgumentNullException(nameof(samplingKeyColumnName)));
        return this;
    }

    /// <summary>The metric to optimise and the key-typed label column (after the feature pipeline).</summary>
    public FusionExperiment SetMulticlassClassificationMetric(FusionMetric metric = FusionMetric.Accuracy, string labelColumn = TorchTrainerOptions.Defaults.LabelColumnName)
    {
        _metric = metric; _label = labelColumn ?? throw new ArgumentNullException(nameof(labelColumn));
        return this;
    }

    /// <summary>Stops starting trials (and cancels the running TorchSharp trial) after <paramref name="seconds"/>.</summary>
    public FusionExperiment SetTrainingTimeInSeconds(uint seconds)
    {
        if (seconds == 0) throw new ArgumentOutOfRangeException(nameof(seconds), seconds,
            "A time budget of 0 seconds cannot train any trial." + Environment.NewLine + "Hint: give the sweep at least the time of one trial (a minute is a safe start).");
        _timeBudget = TimeSpan.FromSeconds(seconds);
        return this;
    }

    /// <summary>Runs at most <paramref name="trials"/> trials (AutoML's <c>SetMaxModelToExplore</c>).</summary>
    public FusionExperiment SetMaxTrials(int trials)
    {
        if (trials <= 0) throw new ArgumentOutOfRangeException(nameof(trials), trials, "The trial budget must be at least 1.");
        _maxTrials = trials;
        return this;
    }

    /// <summary>Seeds the tuner and every trial. Default: the seed drawn from the <c>MLContext</c>.</summary>
    public FusionExperiment SetSeed(int seed) { _seed = seed; return this; }

    /// <summary>Replaces the search space.</summary>
    public FusionExperiment SetSearchSpace(FusionSearchSpace space) { SearchSpace = space ?? throw new ArgumentNullException(nameof(space)); return this; }

    /// <summary>Uses a custom tuner.</summary>
    public FusionExperiment SetTuner(IFusionTuner tuner) { _tuner = tuner ?? throw new ArgumentNullException(nameof(tuner)); return this; }

    /// <summary>Random search.</summary>
    public FusionExperiment SetRandomSearchTuner() => SetTuner(new RandomSearchTuner());

    /// <summary>Grid search (ranges contribute their default unless given grid points).</summary>
    public FusionExperiment SetGridSearchTuner() => SetTuner(new GridSearchTuner());

    /// <summary>The cost-aware tuner (the default): successive halving on epochs; see <see cref="SuccessiveHalvingTuner"/>.</summary>
    public FusionExperiment SetCostAwareTuner(int bracketSize = 9, int eta = 3) => SetTuner(new SuccessiveHalvingTuner(bracketSize, eta));

    /// <summary>Adds a monitor (trial started, completed, best, failed).</summary>
    public FusionExperiment SetMonitor(IFusionMonitor monitor) { _monitors.Add(monitor ?? throw new ArgumentNullException(nameof(monitor))); return this; }

    /// <summary>Calls <paramref name="onTrialCompleted"/> after every trial, whatever its status.</summary>
    public FusionExperiment SetMonitor(Action<FusionTrialResult> onTrialCompleted) => SetMonitor(new ActionMonitor(onTrialCompleted));

    /// <summary>
    /// Ranks trials by <c>(1 - weight) × metric + weight × (the metric with the worst single modality missing)</c>, so
    /// the sweep prefers models that keep working when a modality is absent or shifted (e.g. unseen speakers) over
    /// models that lean on one modality. Default 0: rank by the metric alone (the missing-modality metric is still
    /// measured and reported in <see cref="FusionTrialResult.WorstMissingModalityMetric"/>).
    /// </summary>
    public FusionExperiment SetModalityRobustnessWeight(double weight)
    {
        if (weight < 0 || weight > 1) throw new ArgumentOutOfRangeException(nameof(weight), weight, "The robustness weight must be in [0, 1].");
        _robustness = weight;
        return this;
    }

    /// <summary>Refit the best configuration on all the data (training plus validation rows) after the search. Default false.</summary>
    public FusionExperiment SetRefit(bool refit = true) { _refit = refit; return this; }

    /// <summary>
    /// The estimator a trial of <paramref name="settings"/> trains, on the feature pipeline's output (late fusion's
    /// out-of-fold folds grouped by the sampling key, as the sweep's trials are). Use it to refit or cross-validate a
    /// chosen configuration yourself, for example leave-one-group-out on data the sweep never saw.
    /// </summary>
    /// <param name="settings">A trial's settings, e.g. <c>result.BestTrial.Settings</c>.</param>
    /// <param name="seed">The trainer's seed; default: the seed the sweep gives that configuration.</param>
    public IEstimator<ITransformer> CreateEstimator(FusionTrialSettings settings, int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var (lateFolds, lateKey) = _plan?.LateFolds(_seed) ?? (3, null);
        return Context(lateKey, lateFolds, seed ?? TrialSeed(settings)).Build(settings);
    }

    /// <summary>
    /// Validates the configuration and prepares the data as <see cref="RunAsync"/> does (the feature pipeline fitted per
    /// split, the data checked once), without running any trial: the <see cref="FusionTrialRunner"/> then evaluates the
    /// trials a tuner of your own, or a distributed study, proposes. <see cref="RunAsync"/> calls it itself.
    /// </summary>
    public FusionTrialRunner Prepare()
    {
        Validate();
        var (splits, lateFolds, lateKey) = _plan!.Make(_ml, _features, _seed);
        CheckData(splits);
        return new FusionTrialRunner(_ml, splits, Context(lateKey, lateFolds, seed: null), _metric, _robustness, _seed, _features, _plan.AllRows);
    }

    /// <summary>The candidate engine's context of this experiment's trials: its modalities, label and space, late fusion's folds and grouping.</summary>
    private CandidateContext Context(string? lateKey, int lateFolds, int? seed)
        => new(_ml, _modalities, _label) { Space = EffectiveSpace(), GroupColumnName = lateKey, LateFusionFolds = lateFolds, Seed = seed };

    /// <summary>Runs the search.</summary>
    /// <param name="cancellationToken">Stops the search: the running trial is cancelled and the best completed trial is returned;
    /// if none completed, <see cref="OperationCanceledException"/> is thrown.</param>
    /// <returns>The best trial, the leaderboard and the final model.</returns>
    public Task<FusionExperimentResult> RunAsync(CancellationToken cancellationToken = default)
    {
        Validate();
        return Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void Validate()
    {
        if (_plan == null)
            throw new InvalidOperationException("No dataset was set." + Environment.NewLine + "Hint: call SetDataset(train, validation) or SetDataset(data, folds).");
        if (_modalities.Count == 0)
            throw new InvalidOperationException("No modalities were set." + Environment.NewLine +
                "Hint: call SetModalities(ModalityOptions.Image(\"Pixels\"), ModalityOptions.Audio(\"LogMel\"), ...) with the feature pipeline's output columns.");
        if (_timeBudget == null && _maxTrials == null)
            throw new InvalidOperationException("The sweep has no budget." + Environment.NewLine + "Hint: call SetTrainingTimeInSeconds(...) and/or SetMaxTrials(...).");
        SearchSpace.Validate();
        if (_plan.SamplingKey is string key)
            SchemaErrors.FindColumn(_plan.Data!.Schema, key,
                $"the sampling key column '{key}' must be a column of the data passed to SetDataset (the groups are read before the feature pipeline).");
    }

    /// <summary>
    /// The space trials are drawn from: <see cref="SearchSpace"/>, with the subsets of this experiment's modalities when
    /// it searches none of its own (a copy: <see cref="SearchSpace"/> is not edited). What a tuner of your own, or a
    /// distributed study, proposes from.
    /// </summary>
    public FusionSearchSpace TrialSearchSpace => EffectiveSpace();

    /// <summary>The space trials are drawn from: the user's, with the subsets of this experiment's modalities when it searches none (a copy: the user's space is not edited).</summary>
    private FusionSearchSpace EffectiveSpace() => SearchSpace.ForModalities(_modalities);

    /// <summary>When this many trials in a row fail with the same error before any trial has completed, the sweep stops with that error.</summary>
    public const int RepeatedFailureLimit = 3;

    private FusionExperimentResult Run(CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        var runner = Prepare();
        var tuner = _tuner ?? new SuccessiveHalvingTuner();
        var random = new Random(_seed);
        var trials = new List<FusionTrialResult>();
        FusionTrialResult? best = null;
        ITransformer? bestTrainerModel = null;
        var tuning = new FusionTuningContext(runner.SearchSpace, random, 0, _metric);
        string? lastError = null;
        int sameFailures = 0;
        try
        {
            for (int id = 0; ; id++)
            {
                if (_maxTrials is int max && id >= max) break;
                bool anyCompleted = best != null;
                if (cancel.IsCancellationRequested) break;
                // Out of time: stop, unless nothing has been tried yet (the first trial always runs, so there can be a model).
                if (_timeBudget is { } b && clock.Elapsed >= b && trials.Count > 0) break;
                var settings = tuner.Propose(tuning with { TrialId = id });
                if (settings == null) break;
                foreach (var m in _monitors) m.ReportRunningTrial(settings);

                using var trialCancel = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                if (anyCompleted && _timeBudget is { } budget) trialCancel.CancelAfter(Max(budget - clock.Elapsed, TimeSpan.Zero));
                var (result, trainerModel) = runner.Run(settings, r => { foreach (var m in _monitors) m.ReportEpoch(settings, r); }, clock, trialCancel.Token);
                trials.Add(result);
                if (result.Status == FusionTrialStatus.Failed && result.Error == lastError) sameFailures++;
                else (lastError, sameFailures) = result.Status == FusionTrialStatus.Failed ? (result.Error, 1) : (null, 0);
                tuner.Report(result);
                foreach (var m in _monitors)
                    if (result.Status == FusionTrialStatus.Completed) m.ReportCompletedTrial(result); else m.ReportFailTrial(result);

                if (result.Status == FusionTrialStatus.Completed && (best == null || tuning.IsBetter(result.Metric, best.Metric)))
                {
                    if (best != null) { best.Model = null; FusionTrialRunner.Dispose(bestTrainerModel); }
                    best = result; bestTrainerModel = trainerModel;
                    if (trainerModel != null) result.Model = new TransformerChain<ITransformer>(runner.Splits[0].Featurizer, trainerModel);
                    foreach (var m in _monitors) m.ReportBestTrial(result);
                }
                else FusionTrialRunner.Dispose(trainerModel);
                // Nothing has worked and the same error keeps coming: the data or the space is at fault, not a configuration.
                if (best == null && sameFailures >= RepeatedFailureLimit)
                    throw new InvalidOperationException($"The sweep stopped: {sameFailures} trials in a row failed with the same error and none has completed, so every configuration would fail." +
                        Environment.NewLine + lastError + Environment.NewLine +
                        "Hint: fix the cause above (the data or the search space), then run the sweep again.");
            }

            if (best == null)
            {
                cancel.ThrowIfCancellationRequested();
                throw NoTrialCompleted(trials);
            }

            bool refitted = _refit || _plan!.RefitsAlways;
            var final = refitted ? runner.Refit(best.Settings) : best.Model!;
            return new FusionExperimentResult(best, trials, final, refitted, _metric, clock.Elapsed);
        }
        catch
        {
            FusionTrialRunner.Dispose(bestTrainerModel);
            throw;
        }
    }

    /// <summary>The error of a search in which no trial completed: the first failures and what to do.</summary>
    public static InvalidOperationException NoTrialCompleted(IReadOnlyList<FusionTrialResult> trials)
    {
        var failures = trials.Where(t => t.Error != null).Take(3).Select(t => $"trial {t.Settings.TrialId} ({t.Settings.Family}): {t.Error}");
        return new InvalidOperationException($"No trial completed in {trials.Count} trials." + Environment.NewLine + string.Join(Environment.NewLine, failures) +
            Environment.NewLine + "Hint: check the failures above; a budget too small for one trial also ends here (raise SetTrainingTimeInSeconds or SetMaxTrials).");
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private int TrialSeed(FusionTrialSettings s) => FusionTrialRunner.TrialSeed(_seed, s);

    private void CheckData(List<FusionTrialSplit> list)
    {
        // The data is checked once, before the first trial: a label with two classes or more in every training split, and
        // modality columns of the right type. Otherwise every trial would fail the same way until the budget ends.
        var schema = list[0].Train.Schema;
        SchemaErrors.RequireKeyLabel(schema, _label);
        foreach (var m in _modalities) SchemaErrors.RequireFloatVector(schema, m.ColumnName);
        foreach (var split in list) SchemaErrors.RequireSeveralClasses(split.Train, _label);
    }

    private sealed class ActionMonitor : IFusionMonitor
    {
        private readonly Action<FusionTrialResult> _action;
        public ActionMonitor(Action<FusionTrialResult> action) => _action = action;
        public void ReportCompletedTrial(FusionTrialResult result) => _action(result);
        public void ReportFailTrial(FusionTrialResult result) => _action(result);
    }
}
