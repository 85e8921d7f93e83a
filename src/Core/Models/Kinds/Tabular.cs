namespace MLNetFusion.Models.Kinds;

/// <summary>Tabular features (numbers, one-hot categories, text features, pretrained embeddings): an MLP, a linear late-fusion member.</summary>
internal sealed class TabularKind : IModalityKind
{
    public ModalityKind Kind => ModalityKind.Tabular;
    public EncoderKind DefaultEncoder => EncoderKind.Mlp;
    public ModalityAugmentation DefaultAugmentation(double strength) => ModalityAugmentation.Tabular(strength);
    public bool NeuralLateFusionMember => false;
    public PlainBaseline Baseline => PlainBaseline.LightGbm;
    public string PlainFeatures => "one-hot, normalised numbers";
}

/// <summary>A multilayer perceptron over a flat vector, its inputs standardised by the training statistics.</summary>
internal sealed class MlpEncoderKind : IEncoderKind
{
    public EncoderKind Kind => EncoderKind.Mlp;

    public EncoderOptions CreateOptions() => new MlpEncoderOptions();

    public ModalityEncoder Create(ModalityOptions o, int[] shape, FeatureStatistics stats)
    {
        var mlp = o.EncoderOptionsAs<MlpEncoderOptions>();
        var (mean, std) = stats.ForStandardizer();   // sparse one-hot and word slots kept near 1 where present: embeddings, not amplified rarities
        return new MlpEncoder(o.Name, o.ColumnName, shape[0], mlp.HiddenWidths, o.Dropout, mean, std, mlp.InputDropout, EncoderKinds.Active(o.Augmentation));
    }

    // Its input layer.
    public double MinimumParameters(ModalityOptions o, int[] shape, int size) => o.EncoderOptionsAs<MlpEncoderOptions>().HiddenWidths is { Length: > 0 } w ? (double)size * w[0] : 0;
}

/// <summary>Helpers of the built-in encoder kinds.</summary>
internal static class EncoderKinds
{
    /// <summary>A copy of the augmentation when it does anything, else <c>null</c>.</summary>
    public static ModalityAugmentation? Active(ModalityAugmentation? a) => a is { IsActive: true } ? a.Clone() : null;
}
