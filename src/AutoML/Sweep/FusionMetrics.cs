using Microsoft.ML.Data;

namespace MLNetFusion.AutoML.Sweep;

/// <summary>Metrics ML.NET does not compute itself.</summary>
public static class FusionMetrics
{
    /// <summary>Macro-averaged F1 from ML.NET's confusion matrix (0 for a class with no precision and recall).</summary>
    public static double MacroF1(MulticlassClassificationMetrics m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return Trainers.Evaluation.ModalityMetrics.MacroF1Of(m.ConfusionMatrix.PerClassPrecision, m.ConfusionMatrix.PerClassRecall);
    }
}
