using System.Globalization;
using Microsoft.ML;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

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
