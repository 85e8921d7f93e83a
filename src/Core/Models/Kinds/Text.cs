namespace MLNetFusion.Models.Kinds;

/// <summary>Text as hashed token ids (<c>HashTextTokens</c>): the embedding-bag encoder; a linear model on its n-grams as the late-fusion member.</summary>
internal sealed class TextKind : IModalityKind
{
    public ModalityKind Kind => ModalityKind.Text;
    public EncoderKind DefaultEncoder => EncoderKind.EmbeddingBag;
    public ModalityAugmentation DefaultAugmentation(double strength) => ModalityAugmentation.Text(strength);
    public bool NeuralLateFusionMember => false;
    public PlainBaseline Baseline => PlainBaseline.Linear;
    public string PlainFeatures => "FeaturizeText";

    // Word dropout unless the modality or the trainer says otherwise: an embedding bag overfits rare words without it.
    public void ApplyTrainerSettings(ModalityOptions m, ModalityTrainerSettings s)
        => m.Augmentation ??= DefaultAugmentation(s.AugmentationStrength > 0 ? s.AugmentationStrength : ModalityAugmentation.TextWordDropoutStrength);
}

/// <summary>An embedding per hash bucket, averaged over the row's tokens, then an MLP.</summary>
internal sealed class EmbeddingBagEncoderKind : IEncoderKind
{
    public EncoderKind Kind => EncoderKind.EmbeddingBag;

    public EncoderOptions CreateOptions() => new EmbeddingBagEncoderOptions();

    public ModalityEncoder Create(ModalityOptions o, int[] shape, FeatureStatistics stats)
    {
        var t = o.EncoderOptionsAs<EmbeddingBagEncoderOptions>();
        return new TextEncoder(o.Name, o.ColumnName, shape[0], t.Buckets, t.EmbeddingWidth, t.HiddenWidths, o.Dropout, EncoderKinds.Active(o.Augmentation));
    }

    // Its embedding table.
    public double MinimumParameters(ModalityOptions o, int[] shape, int size)
    {
        var t = o.EncoderOptionsAs<EmbeddingBagEncoderOptions>();
        return ((double)t.Buckets + 1) * t.EmbeddingWidth;
    }
}
