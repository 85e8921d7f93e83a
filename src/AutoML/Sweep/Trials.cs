using System.Globalization;
using Microsoft.ML;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

/// <summary>The metric a sweep optimises (computed with <c>mlContext.MulticlassClassification.Evaluate</c> on validation data).</summary>
public enum FusionMetric
{
    /// <summary>Micro-accuracy (share of rows right). Higher is better.</summary>
    Accuracy,
    /// <summary>Macro-accuracy (mean per-class recall). Higher is better.</summary>
    MacroAccuracy,
    /// <summary>Log-loss. Lower is better.</summary>
    LogLoss,
    /// <summary>Macro-averaged F1. Higher is better.</summary>
    MacroF1,
}

/// <summary>One configuration to train: a family and its parameter values.</summary>
/// <param name="TrialId">0-based trial number.</param>
/// <param name="Family">The fusion family.</param>
/// <param name="Parameters">Parameter values by name (see <see cref="FusionSearchSpace"/>).</param>
public sealed record FusionTrialSettings(int TrialId, FusionFamily Family, IReadOnlyDictionary<string, object> Parameters)
{
    /// <summary>Epochs of the neural trainers, or 0 when the configuration trains none.</summary>
    public int Epochs => SweepParameters.Epochs.TryGet(Parameters, out var e) ? e : 0;

    /// <summary>
    /// The names of the modalities the trial uses (the <c>modalities</c> parameter), or <c>null</c> when the space does
    /// not search subsets (then every modality of the experiment is used).
    /// </summary>
    public IReadOnlyList<string>? Modalities => SweepParameters.Modalities.TryGet(Parameters, out var s) ? ModalitySubsetChoice.Parse(s) : null;

    /// <summary>A stable key of the family and parameters except epochs (the cost-aware tuner's identity of a configuration).</summary>
    public string ConfigurationKey => Family + "|" + string.Join(";", Parameters.Where(p => p.Key != SweepParameters.Epochs.Name).OrderBy(p => p.Key, StringComparer.Ordinal)
        .Select(p => p.Key + "=" + Convert.ToString(p.Value, CultureInfo.InvariantCulture)));

    /// <summary>A copy with another trial id and epochs.</summary>
    public FusionTrialSettings With(int trialId, int? epochs = null)
    {
        var p = new Dictionary<string, object>(Parameters);
        if (epochs is int e && p.ContainsKey(SweepParameters.Epochs.Name)) p[SweepParameters.Epochs.Name] = e;
        return new FusionTrialSettings(trialId, Family, p);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Family.Name()}: " + string.Join(", ", Parameters.Select(p => p.Key + "=" + Format(p.Value)));

    private static string Format(object v) => v is double d ? d.ToString("G3", CultureInfo.InvariantCulture) : Convert.ToString(v, CultureInfo.InvariantCulture) ?? "";
}

/// <summary>How a trial ended.</summary>
public enum FusionTrialStatus
{
    /// <summary>Trained and evaluated.</summary>
    Completed,
    /// <summary>Stopped by the time budget or cancellation before it finished.</summary>
    Stopped,
    /// <summary>Training threw; see <see cref="FusionTrialResult.Error"/>.</summary>
    Failed,
}

/// <summary>One leaderboard row: a trial's settings, metrics, cost and (for the best trial) model.</summary>
public sealed class FusionTrialResult
{
    /// <summary>The trial's settings.</summary>
    public required FusionTrialSettings Settings { get; init; }
    /// <summary>How it ended.</summary>
    public FusionTrialStatus Status { get; init; }
    /// <summary>The value trials are ranked by (NaN unless completed): <see cref="ValidationMetric"/>, blended with
    /// <see cref="WorstMissingModalityMetric"/> when a robustness weight is set.</summary>
    public double Metric { get; init; } = double.NaN;
    /// <summary>The optimised metric on the validation data.</summary>
    public double ValidationMetric { get; init; } = double.NaN;
    /// <summary>
    /// The optimised metric on the validation data with one modality hidden (all NaN), for the modality whose absence
    /// hurts most; NaN with a single modality. A value far below <see cref="ValidationMetric"/> means the model leans on
    /// one modality and will collapse if that modality shifts.
    /// </summary>
    public double WorstMissingModalityMetric { get; init; } = double.NaN;
    /// <summary>Micro-accuracy on the validation data.</summary>
    public double Accuracy { get; init; } = double.NaN;
    /// <summary>Macro-accuracy on the validation data.</summary>
    public double MacroAccuracy { get; init; } = double.NaN;
    /// <summary>Log-loss on the validation data.</summary>
    public double LogLoss { get; init; } = double.NaN;
    /// <summary>Macro-F1 on the validation data.</summary>
    public double MacroF1 { get; init; } = double.NaN;
    /// <summary>Training and evaluation time.</summary>
    public TimeSpan Duration { get; init; }
    /// <summary>Time from the start of the experiment to the end of this trial.</summary>
    public TimeSpan FinishedAt { get; init; }
    /// <summary>Epochs trained by the trial's TorchSharp trainers (summed over members and folds): the sweep's cost unit.</summary>
    public int EpochsTrained { get; init; }
    /// <summary>Why it failed or stopped.</summary>
    public string? Error { get; init; }
    /// <summary>
    /// The fitted model (feature pipeline + trainer) of the best trial so far; <c>null</c> for other trials (their native
    /// memory is freed as soon as they are beaten) and for k-fold trials.
    /// </summary>
    public ITransformer? Model { get; internal set; }
}

/// <summary>The result of <see cref="FusionExperiment.RunAsync"/>.</summary>
public sealed class FusionExperimentResult
{
    internal FusionExperimentResult(FusionTrialResult best, IReadOnlyList<FusionTrialResult> trials, ITransformer model, bool refitted, FusionMetric metric, TimeSpan elapsed)
    {
        BestTrial = best; Trials = trials; Model = model; Refitted = refitted; Metric = metric; Elapsed = elapsed;
    }
    /// <summary>The best completed trial.</summary>
    public FusionTrialResult BestTrial { get; }
    /// <summary>Every trial, in the order run (the leaderboard; sort by <see cref="FusionTrialResult.Metric"/> to rank).</summary>
    public IReadOnlyList<FusionTrialResult> Trials { get; }
    /// <summary>The final model: the best configuration refitted on all the data when refit was on, else the best trial's model.
    /// A normal fitted pipeline: save it with <c>mlContext.Model.SaveFusionModel</c>; dispose it when done.</summary>
    public ITransformer Model { get; }
    /// <summary>Whether <see cref="Model"/> was refitted on all the data.</summary>
    public bool Refitted { get; }
    /// <summary>The optimised metric.</summary>
    public FusionMetric Metric { get; }
    /// <summary>Wall time of the search (and refit).</summary>
    public TimeSpan Elapsed { get; }
    /// <summary>Total epochs trained by all trials.</summary>
    public int TotalEpochs => Trials.Sum(t => t.EpochsTrained);
}

/// <summary>Receives trial events (the counterpart of AutoML's <c>IMonitor</c>). Every method has an empty default.</summary>
public interface IFusionMonitor
{
    /// <summary>A trial starts.</summary>
    void ReportRunningTrial(FusionTrialSettings settings) { }
    /// <summary>A trial completed.</summary>
    void ReportCompletedTrial(FusionTrialResult result) { }
    /// <summary>A trial became the best so far.</summary>
    void ReportBestTrial(FusionTrialResult result) { }
    /// <summary>A trial failed or was stopped.</summary>
    void ReportFailTrial(FusionTrialResult result) { }
    /// <summary>A TorchSharp trainer of the running trial finished an epoch (for live progress displays).</summary>
    void ReportEpoch(FusionTrialSettings settings, MLNetFusion.Training.EpochReport report) { }
}
