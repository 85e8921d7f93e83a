using Microsoft.ML;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.Merge;

namespace MLNetFusion.Samples;

/// <summary>
/// The modality report of a merge-fusion model on the generated dataset: accuracy with every subset of modalities,
/// each modality's importance (hidden, and shuffled across rows), calibration, and accuracy per recording site.
/// </summary>
public static class ModalityReportSample
{
    /// <summary>Runs the sample.</summary>
    public static void Example(int epochs = 10)
    {
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.Synthetic(SyntheticMultimodalDataset.EnsureGenerated(DefaultPaths.SyntheticData), group: "Site");
        var (train, test, _) = ds.Featurize(ml);
        using var model = ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions
        {
            Modalities = ds.Modalities(), Operation = MergeOperation.Attention, Epochs = epochs,
        }).Fit(train);

        var report = ml.MulticlassClassification.EvaluateModalities(model, test, groupColumnName: "Site");
        foreach (var s in report.Subsets)
            Console.WriteLine($"{string.Join(" + ", s.Modalities),-26} accuracy {s.Metrics!.Accuracy:P1}, log-loss {s.Metrics.LogLoss:F3}");
        foreach (var i in report.Importance)
            Console.WriteLine($"{i.Modality,-8} hidden: -{i.AccuracyDropWhenHidden:P1}, permuted: -{i.AccuracyDropWhenPermuted:P1} ± {i.AccuracyDropWhenPermutedStdDev:P1}");
        Console.WriteLine($"ECE {report.Calibration.ExpectedCalibrationError:F3}; worst site {report.Groups!.Worst.Group} {report.Groups.Worst.Metrics.Accuracy:P1}, " +
            $"spread {report.Groups.AccuracySpread:P1}");
        // Expected output (seed 1, 2 cores; measured):
        // Pixels + LogMel + Tabular  accuracy 63.7 %, log-loss 0.999
        // LogMel + Tabular           accuracy 44.0 %, log-loss 1.084
        // Pixels + Tabular           accuracy 35.5 %, log-loss 1.553
        // Pixels + LogMel            accuracy 36.0 %, log-loss 1.486
        // Tabular                    accuracy 24.0 %, log-loss 1.678
        // LogMel                     accuracy 21.7 %, log-loss 1.574
        // Pixels                     accuracy 15.0 %, log-loss 2.018
        // Pixels   hidden: -19.7 %, permuted: -18.9 % ± 2.6 %
        // LogMel   hidden: -28.2 %, permuted: -30.1 % ± 2.7 %
        // Tabular  hidden: -27.7 %, permuted: -29.5 % ± 2.0 %
        // ECE 0.179; worst site site3 60.2 %, spread 7.6 %
        // Each modality carries one of the label's three factors, so every pair is far below the full model and every single
        // modality near 25% at most; hiding or permuting any modality costs tens of points.
    }
}
