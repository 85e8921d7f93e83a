using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Evaluation;
using MLNetFusion.Training;

namespace MLNetFusion.AutoML.Sweep;

/// <summary>
/// An experiment's data, prepared: the feature pipeline fitted once per split (fold or hold-out) and its output cached,
/// and the trial builder with the experiment's modalities, label, search space and late-fusion folds. It evaluates one
/// trial at a time — what <see cref="FusionExperiment.RunAsync"/>'s loop runs, and what a distributed worker runs for
/// the trials it is given (MLNetFusion.Orleans). Create it with <see cref="FusionExperiment.Prepare"/>.
/// </summary>
/// <remarks>
/// A trial's seed depends only on the experiment's seed and the trial's configuration
/// (<see cref="FusionTrialSettings.ConfigurationKey"/>), and the splits only on the experiment's seed, so two runners of
/// the same experiment (in one process or on two machines, at the same torch thread count) give the same metrics for
/// the same settings.
/// </remarks>
public sealed class FusionTrialRunner
{
    private readonly MLContext _ml;
    private readonly List<FusionTrialSplit> _splits;
    private readonly CandidateContext _builder;
    private readonly FusionMetric _metric;
    private readonly double _robustness;
    private readonly int _seed;
    private readonly IEstimator<ITransformer>? _features;
    private readonly IDataView _all;

    internal FusionTrialRunner(MLContext ml, List<FusionTrialSplit> splits, CandidateContext builder, FusionMetric metric, double robustness, int seed,
        IEstimator<ITransformer>? features, IDataView all)
    {
        _ml = ml; _splits = splits; _builder = builder; _metric = metric; _robustness = robustness; _seed = seed; _features = features; _all = all;
    }

    /// <summary>The search space trials are drawn from: the experiment's, with the modality subsets of its modalities when it searches none of its own.</summary>
    public FusionSearchSpace SearchSpace => _builder.Space!;

    /// <summary>The optimised metric.</summary>
    public FusionMetric Metric => _metric;

    /// <summary>Number of splits a trial is trained on (folds, or 1 for a hold-out).</summary>
    public int SplitCount => _splits.Count;

    internal IReadOnlyList<FusionTrialSplit> Splits => _splits;
    internal CandidateContext Builder => _builder;

    /// <summary>The seed the trainers of a trial of <paramref name="settings"/> get.</summary>
    public int TrialSeed(FusionTrialSettings settings) => TrialSeed(_seed, settings);

    internal static int TrialSeed(int experimentSeed, FusionTrialSettings settings)
        => unchecked(experimentSeed * 7919 + settings.ConfigurationKey.Aggregate(17, (h, c) => h * 31 + c));

    /// <summary>
    /// Trains and validates one trial on every split. Never throws for a failing configuration: a failure is a result
    /// with <see cref="FusionTrialStatus.Failed"/> and the error; cancellation gives <see cref="FusionTrialStatus.Stopped"/>.
    /// </summary>
    /// <param name="settings">The trial.</param>
    /// <param name="progress">Receives the TorchSharp trainers' epochs.</param>
    /// <param name="cancellationToken">Stops the trial's TorchSharp trainers.</param>
    public FusionTrialResult Run(FusionTrialSettings settings, Action<EpochReport>? progress = null, CancellationToken cancellationToken = default)
        => Run(settings, null, progress, cancellationToken);

    /// <summary>As <see cref="Run(FusionTrialSettings, Action{EpochReport}?, CancellationToken)"/>, and gives a trial with one split's fitted trainer (it reads the featurized columns) to <paramref name="useModel"/> before it is disposed, for example to save it.</summary>
    public FusionTrialResult Run(FusionTrialSettings settings, Action<ITransformer>? useModel, Action<EpochReport>? progress = null, CancellationToken cancellationToken = default)
    {
        var (result, model) = Run(settings, progress, Stopwatch.StartNew(), cancellationToken);
        try { if (model != null) useModel?.Invoke(model); }
        finally { Dispose(model); }
        return result;
    }

    /// <summary>The schema of the featurized rows trials train on (the input of the models <see cref="Run(FusionTrialSettings, Action{ITransformer}?, Action{EpochReport}?, CancellationToken)"/> gives).</summary>
    public DataViewSchema FeatureSchema => _splits[0].Train.Schema;

    /// <summary>The trial's result, and its trainer's model when there is one split (apply it after <see cref="FusionTrialSplit.Featurizer"/>); the caller disposes it.</summary>
    internal (FusionTrialResult Result, ITransformer? Model) Run(FusionTrialSettings settings, Action<EpochReport>? progress, Stopwatch clock, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var watch = Stopwatch.StartNew();
        int epochs = 0;
        var metrics = new List<ModalityMetrics>();
        ITransformer? model = null;
        try
        {
            foreach (var split in _splits)
            {
                if (model != null) { Dispose(model); model = null; }
                var estimator = Context(settings, r => { Interlocked.Increment(ref epochs); progress?.Invoke(r); }, cancel).Build(settings);
                model = estimator.Fit(split.Train);
                cancel.ThrowIfCancellationRequested();
                metrics.Add(Score(model.Transform(split.Validation)));
            }
            double acc = metrics.Average(m => m.Accuracy), macro = metrics.Average(m => m.MacroAccuracy);
            double logLoss = metrics.Average(m => m.LogLoss), f1 = metrics.Average(m => m.MacroF1);
            double metric = Select(_metric, acc, macro, logLoss, f1);
            double worst = WorstMissingModality(model!, _splits[^1].Validation, _builder.ModalitiesOf(settings));
            var result = new FusionTrialResult
            {
                Settings = settings, Status = FusionTrialStatus.Completed, Accuracy = acc, MacroAccuracy = macro, LogLoss = logLoss, MacroF1 = f1,
                ValidationMetric = metric, WorstMissingModalityMetric = worst,
                Metric = _robustness > 0 && !double.IsNaN(worst) ? (1 - _robustness) * metric + _robustness * worst : metric,
                Duration = watch.Elapsed, FinishedAt = clock.Elapsed, EpochsTrained = epochs,
            };
            if (_splits.Count > 1) { Dispose(model); model = null; }
            return (result, model);
        }
        catch (OperationCanceledException)
        {
            Dispose(model);
            return (new FusionTrialResult { Settings = settings, Status = FusionTrialStatus.Stopped, Duration = watch.Elapsed, FinishedAt = clock.Elapsed, EpochsTrained = epochs,
                Error = "stopped by the time budget or cancellation" }, null);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Dispose(model);
            return (new FusionTrialResult { Settings = settings, Status = FusionTrialStatus.Failed, Duration = watch.Elapsed, FinishedAt = clock.Elapsed, EpochsTrained = epochs,
                Error = ex.Message }, null);
        }
    }

    /// <summary>
    /// Fits <paramref name="settings"/> on all the experiment's data (training plus validation rows): the feature pipeline,
    /// then the trial's estimator with the seed the sweep gives that configuration. The caller disposes the model.
    /// </summary>
    public ITransformer Refit(FusionTrialSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var featurizer = _features?.Fit(_all) ?? new TransformerChain<ITransformer>();
        var features = _ml.Data.Cache(featurizer.Transform(_all));
        var estimator = Context(settings, null, cancellationToken).Build(settings);
        return new TransformerChain<ITransformer>(featurizer, estimator.Fit(features));
    }

    /// <summary>The engine's context of one trial: its seed, its epochs counted, its cancellation.</summary>
    private CandidateContext Context(FusionTrialSettings settings, Action<EpochReport>? epochFinished, CancellationToken cancel)
        => _builder with { Seed = TrialSeed(settings), EpochFinished = epochFinished, CancellationToken = cancel };

    /// <summary>The metrics of scored rows, as the leaderboard and the modality report compute them (<c>ScoredRows</c>).</summary>
    private ModalityMetrics Score(IDataView scored) => ScoredRows.Read(scored, _builder.Label, "Score").Metrics();

    private static double Select(FusionMetric metric, double acc, double macro, double logLoss, double f1)
        => metric switch { FusionMetric.Accuracy => acc, FusionMetric.MacroAccuracy => macro, FusionMetric.LogLoss => logLoss, _ => f1 };

    /// <summary>The metric on <paramref name="validation"/> with each modality hidden in turn; the worst one (NaN with one modality).</summary>
    private double WorstMissingModality(ITransformer model, IDataView validation, IReadOnlyList<ModalityOptions> modalities)
    {
        if (modalities.Count < 2) return double.NaN;
        double worst = double.NaN;
        foreach (var m in modalities)
        {
            double value;
            try
            {
                var e = Score(model.Transform(MLNetFusion.Trainers.Evaluation.ModalityColumn.Hide(validation.Schema, m.ColumnName).Transform(validation)));
                value = Select(_metric, e.Accuracy, e.MacroAccuracy, e.LogLoss, e.MacroF1);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
            {
                // A model that cannot predict without this modality at all (e.g. it rejects NaN inputs) is as bad as it gets.
                value = _metric == FusionMetric.LogLoss ? double.PositiveInfinity : 0;
            }
            if (double.IsNaN(value)) value = _metric == FusionMetric.LogLoss ? double.PositiveInfinity : 0;
            worst = double.IsNaN(worst) ? value : _metric == FusionMetric.LogLoss ? Math.Max(worst, value) : Math.Min(worst, value);
        }
        return worst;
    }

    // TransformerChain is IDisposable and disposes its links.
    internal static void Dispose(ITransformer? model) => (model as IDisposable)?.Dispose();
}

/// <summary>One split of an experiment: its featurized training and validation rows and the fitted feature pipeline.</summary>
internal sealed record FusionTrialSplit(IDataView Train, IDataView Validation, ITransformer Featurizer);
