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
        if (options.Encoder is EncoderKind.Mlp or EncoderKind.EmbeddingBag) return new[] { size };
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
    public static ModalityEncoder Create(ModalityOptions options, int[] shape, FeatureStatistics stats)
    {
        var encoder = Build(options, shape, stats);
        encoder.LearningRateMultiplier = options.LearningRateMultiplier;
        return encoder;
    }

    private static ModalityEncoder Build(ModalityOptions options, int[] shape, FeatureStatistics stats) => options.Encoder switch
    {
        EncoderKind.Mlp => new MlpEncoder(options.Name, options.ColumnName, shape[0], options.HiddenWidths, options.Dropout, stats.Mean, stats.Std, options.InputDropout,
            Active(options.Augmentation)),
        EncoderKind.Cnn => new ConvEncoder(options.Name, options.ColumnName, shape, options.ConvChannels, options.OutputWidth, options.Dropout,
            options.BatchNorm, stats.ScalarMean, stats.ScalarStd, Active(options.Augmentation), options.PerClipNormalization),
        EncoderKind.EmbeddingBag => new TextEncoder(options.Name, options.ColumnName, shape[0], options.TextBuckets, options.OutputWidth, options.HiddenWidths,
            options.Dropout, Active(options.Augmentation)),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Encoder, "Unknown encoder kind."),
    };

    private static ModalityAugmentation? Active(ModalityAugmentation? a) => a is { IsActive: true } ? a.Clone() : null;

    /// <summary>
    /// A lower bound on the parameters of the encoders <see cref="Create"/> builds, from their options alone: each
    /// modality's first dense layer (an MLP's input layer, a CNN's projection from its last feature map). Computed in
    /// doubles, so a configuration claiming more than <c>long</c> can count cannot overflow. The model reader uses it
    /// to reject a file whose weights cannot hold the network its configuration describes.
    /// </summary>
    public static double MinimumParameters(IReadOnlyList<ModalityOptions> modalities, int[][] shapes, int[] sizes)
    {
        double total = 0;
        for (int i = 0; i < Math.Min(modalities.Count, sizes.Length); i++)
        {
            var m = modalities[i];
            if (m.Encoder == EncoderKind.Mlp && m.HiddenWidths.Length > 0) total += (double)sizes[i] * m.HiddenWidths[0];
            else if (m.Encoder == EncoderKind.EmbeddingBag) total += ((double)m.TextBuckets + 1) * m.OutputWidth;
            else if (m.Encoder == EncoderKind.Cnn && m.ConvChannels.Length > 0 && i < shapes.Length && shapes[i].Length >= 2)
            {
                // Each conv block halves height and width (ConvEncoder's max-pooling).
                double scale = Math.Pow(2, m.ConvChannels.Length);
                double h = Math.Max(1, Math.Floor(shapes[i][^2] / scale)), w = Math.Max(1, Math.Floor(shapes[i][^1] / scale));
                total += m.ConvChannels[^1] * h * w * m.OutputWidth;
            }
        }
        return total;
    }
}
