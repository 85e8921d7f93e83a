namespace MLNetFusion.Trainers.Evaluation;

/// <summary>
/// Multiclass metrics of one evaluation, with the definitions of <c>mlContext.MulticlassClassification.Evaluate</c>
/// (rows whose label is missing are skipped; log-loss clips probabilities at 1e-15).
/// </summary>
/// <param name="Accuracy">Micro-accuracy: the share of rows whose highest score is the label.</param>
/// <param name="MacroAccuracy">Mean per-class recall over the classes present.</param>
/// <param name="LogLoss">Mean of −ln p(label).</param>
/// <param name="MacroF1">Mean per-class F1 over all classes (0 for a class never predicted nor present).</param>
/// <param name="Rows">Rows evaluated.</param>
/// <param name="NonFiniteScoreRows">Rows whose score vector held NaN or ±Inf (they count as wrong); non-zero means the model could not score them.</param>
public sealed record ModalityMetrics(double Accuracy, double MacroAccuracy, double LogLoss, double MacroF1, int Rows, int NonFiniteScoreRows)
{
    /// <summary>
    /// The one definition of macro-F1 in MLNetFusion: the mean over all classes of 2·precision·recall / (precision + recall),
    /// 0 for a class with neither. The modality report, the leaderboard and the sweep (through ML.NET's confusion matrix) all use it.
    /// </summary>
    /// <param name="precision">Per class, its precision.</param>
    /// <param name="recall">Per class, its recall.</param>
    public static double MacroF1Of(IReadOnlyList<double> precision, IReadOnlyList<double> recall)
    {
        ArgumentNullException.ThrowIfNull(precision);
        ArgumentNullException.ThrowIfNull(recall);
        if (precision.Count != recall.Count) throw new ArgumentException($"{precision.Count} precisions but {recall.Count} recalls.", nameof(recall));
        double sum = 0;
        for (int i = 0; i < precision.Count; i++) sum += precision[i] + recall[i] > 0 ? 2 * precision[i] * recall[i] / (precision[i] + recall[i]) : 0;
        return sum / Math.Max(1, precision.Count);
    }
}

/// <summary>The metrics with only some modalities present, the others hidden as missing.</summary>
/// <param name="Modalities">The modality columns present.</param>
/// <param name="Metrics">The metrics, or <c>null</c> when the model could not predict without the others (see <paramref name="Error"/>).</param>
/// <param name="Error">Why the model could not predict from this subset.</param>
public sealed record ModalitySubsetMetrics(IReadOnlyList<string> Modalities, ModalityMetrics? Metrics, string? Error = null);

/// <summary>How much the model relies on one modality.</summary>
/// <param name="Modality">The modality column.</param>
/// <param name="AccuracyDropWhenHidden">Accuracy with every modality minus accuracy with this one hidden (missing). NaN for a single-modality model.</param>
/// <param name="LogLossIncreaseWhenHidden">Log-loss with this one hidden minus log-loss with every modality.</param>
/// <param name="AccuracyDropWhenPermuted">Mean accuracy drop when this modality's values are shuffled across rows (permutation feature importance at modality level).</param>
/// <param name="AccuracyDropWhenPermutedStdDev">Standard deviation of that drop over the repetitions.</param>
/// <param name="LogLossIncreaseWhenPermuted">Mean log-loss increase when shuffled.</param>
/// <param name="LogLossIncreaseWhenPermutedStdDev">Its standard deviation.</param>
/// <param name="Permutations">Repetitions of the shuffle.</param>
public sealed record ModalityImportance(string Modality, double AccuracyDropWhenHidden, double LogLossIncreaseWhenHidden,
    double AccuracyDropWhenPermuted, double AccuracyDropWhenPermutedStdDev, double LogLossIncreaseWhenPermuted, double LogLossIncreaseWhenPermutedStdDev, int Permutations);

/// <summary>One bin of the reliability diagram: rows whose confidence (highest probability) lies in (<paramref name="Lower"/>, <paramref name="Upper"/>].</summary>
/// <param name="Lower">Lower edge (exclusive, except 0 for the first bin).</param>
/// <param name="Upper">Upper edge (inclusive).</param>
/// <param name="Count">Rows in the bin.</param>
/// <param name="MeanConfidence">Mean confidence of its rows (NaN when empty).</param>
/// <param name="Accuracy">Share of its rows predicted right (NaN when empty).</param>
public sealed record CalibrationBin(double Lower, double Upper, int Count, double MeanConfidence, double Accuracy);

/// <summary>Calibration: expected calibration error and the reliability-diagram data.</summary>
/// <param name="ExpectedCalibrationError">Σ over bins of (rows in bin / rows) × |accuracy − mean confidence| (Guo et al., 2017).</param>
/// <param name="Bins">The equal-width bins over [0, 1].</param>
public sealed record CalibrationReport(double ExpectedCalibrationError, IReadOnlyList<CalibrationBin> Bins);

/// <summary>The metrics of one group (speaker, site, …).</summary>
/// <param name="Group">The group's key value.</param>
/// <param name="Metrics">Its metrics.</param>
public sealed record GroupMetrics(string Group, ModalityMetrics Metrics);

/// <summary>Metrics per group of a group column.</summary>
/// <param name="ColumnName">The group column.</param>
/// <param name="Groups">Every group's metrics, in order of first appearance.</param>
/// <param name="Worst">The group with the lowest accuracy.</param>
/// <param name="MeanAccuracy">Unweighted mean of the groups' accuracies.</param>
/// <param name="AccuracyStdDev">Their standard deviation (population).</param>
/// <param name="AccuracySpread">Best minus worst group accuracy.</param>
public sealed record GroupReport(string ColumnName, IReadOnlyList<GroupMetrics> Groups, GroupMetrics Worst, double MeanAccuracy, double AccuracyStdDev, double AccuracySpread);

/// <summary>
/// What each modality contributes to a fitted multimodal model, returned by
/// <c>mlContext.MulticlassClassification.EvaluateModalities</c>.
/// </summary>
public sealed class ModalityReport
{
    internal ModalityReport(IReadOnlyList<string> modalities, ModalityMetrics overall, IReadOnlyList<ModalitySubsetMetrics> subsets,
        IReadOnlyList<ModalityImportance> importance, CalibrationReport calibration, GroupReport? groups)
    {
        Modalities = modalities; Overall = overall; Subsets = subsets; Importance = importance; Calibration = calibration; Groups = groups;
    }

    /// <summary>The modality columns, in the model's order.</summary>
    public IReadOnlyList<string> Modalities { get; }
    /// <summary>Metrics with every modality present.</summary>
    public ModalityMetrics Overall { get; }
    /// <summary>Metrics for every non-empty subset of modalities (the full set first, then by decreasing size).</summary>
    public IReadOnlyList<ModalitySubsetMetrics> Subsets { get; }
    /// <summary>Importance of each modality: hidden and permuted.</summary>
    public IReadOnlyList<ModalityImportance> Importance { get; }
    /// <summary>Calibration of the full model.</summary>
    public CalibrationReport Calibration { get; }
    /// <summary>Metrics per group, when a group column was given; else <c>null</c>.</summary>
    public GroupReport? Groups { get; }

    /// <summary>The metrics of the subset holding exactly <paramref name="modalities"/>.</summary>
    public ModalitySubsetMetrics Subset(params string[] modalities)
        => Subsets.FirstOrDefault(s => s.Modalities.Count == modalities.Length && modalities.All(s.Modalities.Contains))
           ?? throw new ArgumentException($"No subset holds exactly {string.Join(", ", modalities)}; the modalities are {string.Join(", ", Modalities)}.", nameof(modalities));
}
