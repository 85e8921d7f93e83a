using MLNetFusion.Trainers.Early;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Models;
using MLNetFusion.Training;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

/// <summary>Metrics ML.NET does not compute itself.</summary>
public static class FusionMetrics
{
    /// <summary>Macro-averaged F1 from ML.NET's confusion matrix (0 for a class with no precision and recall).</summary>
    public static double MacroF1(MulticlassClassificationMetrics m)
    {
        var p = m.ConfusionMatrix.PerClassPrecision;
        var r = m.ConfusionMatrix.PerClassRecall;
        double sum = 0;
        for (int i = 0; i < p.Count; i++) sum += p[i] + r[i] > 0 ? 2 * p[i] * r[i] / (p[i] + r[i]) : 0;
        return sum / Math.Max(1, p.Count);
    }
}
