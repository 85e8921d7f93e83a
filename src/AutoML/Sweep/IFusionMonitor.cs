using System.Globalization;
using Microsoft.ML;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

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
