using System.Globalization;
using Microsoft.ML;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

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
