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
