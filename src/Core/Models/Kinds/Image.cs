namespace MLNetFusion.Models.Kinds;

/// <summary>An image (<c>[C, H, W]</c> pixels): a CNN, the single-modality network as its late-fusion member.</summary>
internal sealed class ImageKind : IModalityKind
{
    public ModalityKind Kind => ModalityKind.Image;
    public EncoderKind DefaultEncoder => EncoderKind.Cnn;
    public ModalityAugmentation DefaultAugmentation(double strength) => ModalityAugmentation.Image(strength);
    public bool NeuralLateFusionMember => true;
    public string PlainFeatures => "pixels";
    public IModalityColumnInference? ColumnInference => BuiltInColumnInference.Get(Kind);
}

/// <summary>A 2-D CNN over <c>C×H×W</c> (images) or <c>bands×frames</c> (spectrograms): conv blocks with 2×2 pooling, then a projection.</summary>
internal sealed class CnnEncoderKind : IEncoderKind
{
    public EncoderKind Kind => EncoderKind.Cnn;

    public EncoderOptions CreateOptions() => new CnnEncoderOptions();

    public int[] ResolveShape(ModalityOptions options, int size, IReadOnlyList<int> dimensions)
    {
        int[]? shape = options.EncoderOptionsAs<CnnEncoderOptions>().Shape;
        if (shape == null && dimensions.Count >= 2 && dimensions.All(d => d > 0)) shape = dimensions.ToArray();
        if (shape == null)
            throw new ArgumentException(
                $"Modality '{options.Name}': column '{options.ColumnName}' is a flat vector of {size} values, so the CNN cannot infer its image shape." + Environment.NewLine +
                "Hint: set CnnEncoderOptions.Shape to [channels, height, width] or [height, width], or produce the column with ExtractPixels / MelSpectrogram, which record the shape.",
                nameof(options));
        if (shape.Length == 2) shape = new[] { 1, shape[0], shape[1] };
        if (shape.Length != 3 || shape.Any(s => s <= 0))
            throw new ArgumentException($"Modality '{options.Name}': Shape must be [channels, height, width] or [height, width], got [{string.Join(", ", shape)}].", nameof(options));
        int prod = shape[0] * shape[1] * shape[2];
        if (prod != size)
            throw new ArgumentException(
                $"Modality '{options.Name}': Shape [{string.Join(", ", shape)}] holds {prod} values, but column '{options.ColumnName}' has {size}." + Environment.NewLine +
                "Hint: make Shape multiply to the column's vector size (for images: channels x height x width after ResizeImages).",
                nameof(options));
        return shape;
    }

    public ModalityEncoder Create(ModalityOptions o, int[] shape, FeatureStatistics stats)
    {
        var c = o.EncoderOptionsAs<CnnEncoderOptions>();
        return new ConvEncoder(o.Name, o.ColumnName, shape, c.ConvChannels, c.OutputWidth, o.Dropout, c.BatchNorm, stats.ScalarMean, stats.ScalarStd,
            EncoderKinds.Active(o.Augmentation), c.PerClipNormalization);
    }

    // The projection from its last feature map: each conv block halves height and width (2x2 pooling).
    public double MinimumParameters(ModalityOptions o, int[] shape, int size)
    {
        var c = o.EncoderOptionsAs<CnnEncoderOptions>();
        if (c.ConvChannels.Length == 0 || shape.Length < 2) return 0;
        double scale = Math.Pow(2, c.ConvChannels.Length);
        double h = Math.Max(1, Math.Floor(shape[^2] / scale)), w = Math.Max(1, Math.Floor(shape[^1] / scale));
        return c.ConvChannels[^1] * h * w * c.OutputWidth;
    }
}
