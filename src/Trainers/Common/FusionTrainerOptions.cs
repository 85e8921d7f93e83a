using MLNetFusion.Models;
using MLNetFusion.Training;

namespace MLNetFusion.Trainers;

/// <summary>
/// Options shared by MLNetFusion's neural fusion trainers: the modalities, the classification head, the remedies for
/// modality competition (modality dropout, auxiliary per-modality losses) and the output columns.
/// </summary>
public abstract class FusionTrainerOptions : TorchTrainerOptions
{
    /// <summary>Defaults shared by the fusion trainers.</summary>
    public new static class Defaults
    {
        /// <summary>Default hidden widths of the classification head.</summary>
        public static int[] HeadHiddenWidths => new[] { 64 };
        /// <summary>Default head dropout.</summary>
        public const double HeadDropout = 0.2;
        /// <summary>Default modality dropout for multimodal trainers.</summary>
        public const double ModalityDropout = 0.25;
        /// <summary>Default auxiliary loss weight for multimodal trainers.</summary>
        public const double AuxiliaryLossWeight = 0.5;
        /// <summary>Default weight of the modality heads in the prediction.</summary>
        public const double ModalityHeadWeight = 1;
    }

    /// <summary>Largest fusion width (merge, cross-modal, network widths) that <c>Validate</c> accepts.</summary>
    public const int MaxWidth = 4096;
    /// <summary>Most attention heads.</summary>
    public const int MaxHeads = 64;
    /// <summary>Most cross-modal exchanges.</summary>
    public const int MaxDepth = 8;
    /// <summary>Largest low-rank tensor fusion rank.</summary>
    public const int MaxRank = 64;

    /// <summary>The modalities, in order. Each names its column and encoder; names must be unique.</summary>
    public virtual List<ModalityOptions> Modalities { get; set; } = new();

    /// <summary>Hidden widths of the classification head on the fused embedding (may be empty).</summary>
    public int[] HeadHiddenWidths { get; set; } = Defaults.HeadHiddenWidths.ToArray();

    /// <summary>Dropout in the head.</summary>
    public double HeadDropout { get; set; } = Defaults.HeadDropout;

    /// <summary>
    /// Probability of hiding each modality of each training row (never all of a row's modalities). It keeps the network
    /// from leaning on one modality, so predictions survive a shifted or missing modality, and trains prediction from
    /// any subset. Default 0.25; ignored with one modality.
    /// </summary>
    public double ModalityDropout { get; set; } = Defaults.ModalityDropout;

    /// <summary>
    /// Weight of per-modality auxiliary classification losses (a linear head on each encoder's embedding, trained on
    /// rows where that modality is present). It makes every encoder learn on its own. Default 0.5; 0 disables it.
    /// </summary>
    public double AuxiliaryLossWeight { get; set; } = Defaults.AuxiliaryLossWeight;

    /// <summary>
    /// Weight of each modality's own head in the prediction. The auxiliary heads (<see cref="AuxiliaryLossWeight"/>) are
    /// unimodal classifiers; above 0, the network predicts from the fused head's log-probabilities plus this weight times
    /// each present modality's head's log-probabilities (a product of experts inside the network, as late fusion's
    /// <c>ProductOfExperts</c> combines separate models). A modality the fused head leans on then cannot outvote the others'
    /// evidence alone, which keeps predictions up when one modality shifts. Default 1, chosen by leave-one-speaker-out on
    /// avdigits (docs/shift.md, "Remedies"); 0 predicts from the fused head only. Used in validation, modality selection and
    /// prediction; training is unchanged. With one modality, or with <see cref="AuxiliaryLossWeight"/> 0 (no heads), the
    /// fused head predicts alone and the training log says so.
    /// </summary>
    public double ModalityHeadWeight { get; set; } = Defaults.ModalityHeadWeight;

    /// <summary>
    /// Balanced multimodal learning: the strength α of OGM-GE gradient modulation (<see cref="BalancedFusionLoss"/>;
    /// Peng et al., CVPR 2022), which slows the encoder of whichever modality dominates each batch so that the others
    /// keep learning. 0 (default) is off; the paper uses 0.1 to 1. Needs <see cref="AuxiliaryLossWeight"/> above 0.
    /// </summary>
    public double BalancedLearningAlpha { get; set; }

    /// <summary>
    /// Training-time augmentation of every modality that does not set its own <see cref="ModalityOptions.Augmentation"/>:
    /// the preset of its <see cref="ModalityOptions.Kind"/> at this strength (<see cref="ModalityAugmentation.For"/>:
    /// SpecAugment masks, time shift and gain for audio; erasing and translation for images; noise and feature dropout
    /// for tabular). 0 (default) leaves each kind's own default: the audio kind's SpecAugment at strength 0.5 (a voice or
    /// a microphone the model never saw is the shift audio meets; chosen by leave-one-speaker-out on avdigits,
    /// docs/shift.md, "Remedies") and the text kind's word dropout; none for images and tabular. A modality's own
    /// <see cref="ModalityOptions.Augmentation"/> wins (<c>new ModalityAugmentation()</c> switches it off). Never applied at inference.
    /// </summary>
    public double AugmentationStrength { get; set; }

    /// <summary>
    /// After training, switch off each modality whose absence lowers the validation loss by more than one standard error
    /// (backward elimination, one modality at a time; the network was trained with modality dropout, so it
    /// predicts from any subset). A weak modality that the network overfits then cannot drag the fused model below the
    /// others. It needs validation rows: <see cref="TorchTrainerOptions.ValidationFraction"/> above 0 (with
    /// <see cref="TorchTrainerOptions.SamplingKeyColumnName"/>, whole groups) or validation data passed to <c>Fit</c>;
    /// without them every modality is used. A switched-off modality is still used by rows that have no other. The choice
    /// is logged, saved with the model and shown by <see cref="FusionPredictionTransformer.UnusedModalities"/>. Default true.
    /// </summary>
    public bool SelectModalities { get; set; } = true;

    /// <summary>
    /// What the fitted model's <c>Transform</c> does with NaN or infinite values in a present modality (an entirely NaN
    /// vector is a missing modality either way): <see cref="NonFiniteInputHandling.Error"/> (default) or
    /// <see cref="NonFiniteInputHandling.TreatAsMissing"/>, which predicts such rows from their other modalities and counts
    /// them (<see cref="FusionPredictionTransformer.RowsWithNonFiniteInputs"/>). Training data with such values is always an error.
    /// </summary>
    public NonFiniteInputHandling NonFiniteInputs { get; set; }

    /// <summary>Name of the probability column. Default <c>Score</c>; <c>null</c> omits it.</summary>
    public string? ScoreColumnName { get; set; } = "Score";

    /// <summary>Name of the predicted key column. Default <c>PredictedLabel</c>; <c>null</c> omits it.</summary>
    public string? PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>If set, also output the fused embedding under this name.</summary>
    public string? EmbeddingColumnName { get; set; }

    /// <summary>If set, also output a <c>Vector&lt;Boolean&gt;</c> of the modalities each row used.</summary>
    public string? ModalitiesUsedColumnName { get; set; }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        if (Modalities.Count == 0)
            throw new ArgumentException("No modalities were given." + Environment.NewLine +
                "Hint: add at least one ModalityOptions (e.g. ModalityOptions.Image(\"Pixels\"), ModalityOptions.Audio(\"LogMel\")).", nameof(Modalities));
        var dup = Modalities.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new ArgumentException($"Modality name '{dup.Key}' is used twice; names must be unique.", nameof(Modalities));
        foreach (var m in Modalities) m.Validate();
        Check.Fraction(ModalityDropout);
        Check.NonNegative(AuxiliaryLossWeight);
        Check.Fraction(HeadDropout);
        Check.InRange(BalancedLearningAlpha, 0, 10);
        Check.InRange(AugmentationStrength, 0, 4);
        Check.InRange(ModalityHeadWeight, 0, Models.FusionNetwork.MaxModalityHeadWeight);
        if (BalancedLearningAlpha > 0 && !(AuxiliaryLossWeight > 0))
            throw new ArgumentOutOfRangeException(nameof(BalancedLearningAlpha), BalancedLearningAlpha, "BalancedLearningAlpha needs the auxiliary per-modality heads." +
                Environment.NewLine + "Hint: keep AuxiliaryLossWeight above 0 (default 0.5), or set BalancedLearningAlpha to 0.");
    }
}
