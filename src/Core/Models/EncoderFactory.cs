namespace MLNetFusion.Models;

/// <summary>Builds the encoder a <see cref="ModalityOptions"/> describes.</summary>
internal static class EncoderFactory
{
    /// <summary>Resolves the per-row shape of a modality from its options and its column.</summary>
    /// <param name="options">The modality.</param>
    /// <param name="size">The column's vector size.</param>
    /// <param name="dimensions">The column's vector dimensions (ML.NET's <c>VectorDataViewType.Dimensions</c>).</param>
    /// <exception cref="ArgumentException">The shape does not match the column; the message says how to fix it.</exception>
    public static int[] ResolveShape(ModalityOptions options, int size, IReadOnlyList<int> dimensions)
    {
        if (options.Encoder == EncoderKind.Mlp) return new[] { size };
        int[]? shape = options.Shape;
        if (shape == null && dimensions.Count >= 2 && dimensions.All(d => d > 0)) shape = dimensions.ToArray();
        if (shape == null)
            throw new ArgumentException(
                $"Modality '{options.Name}': column '{options.ColumnName}' is a flat vector of {size} values, so the CNN cannot infer its image shape." + Environment.NewLine +
                "Hint: set ModalityOptions.Shape to [channels, height, width] or [height, width], or produce the column with ExtractPixels / MelSpectrogram, which record the shape.",
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

    /// <summary>Creates the encoder.</summary>
    public static ModalityEncoder Create(ModalityOptions options, int[] shape, FeatureStatistics stats) => options.Encoder switch
    {
        EncoderKind.Mlp => new MlpEncoder(options.Name, options.ColumnName, shape[0], options.HiddenWidths, options.Dropout, stats.Mean, stats.Std, options.InputDropout,
            Active(options.Augmentation)),
        EncoderKind.Cnn => new ConvEncoder(options.Name, options.ColumnName, shape, options.ConvChannels, options.OutputWidth, options.Dropout,
            options.BatchNorm, stats.ScalarMean, stats.ScalarStd, Active(options.Augmentation), options.PerClipNormalization),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Encoder, "Unknown encoder kind."),
    };

    private static ModalityAugmentation? Active(ModalityAugmentation? a) => a is { IsActive: true } ? a.Clone() : null;
}
