using System.Globalization;
using Microsoft.ML;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

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
