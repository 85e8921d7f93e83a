namespace MLNetFusion.Models;

/// <summary>Builds the encoder a <see cref="ModalityOptions"/> describes, through its registered <see cref="IEncoderKind"/>.</summary>
internal static class EncoderFactory
{
    /// <summary>Resolves the per-row shape of a modality from its options and its column.</summary>
    /// <param name="options">The modality.</param>
    /// <param name="size">The column's vector size.</param>
    /// <param name="dimensions">The column's vector dimensions (ML.NET's <c>VectorDataViewType.Dimensions</c>).</param>
    /// <exception cref="ArgumentException">The shape does not match the column; the message says how to fix it.</exception>
    public static int[] ResolveShape(ModalityOptions options, int size, IReadOnlyList<int> dimensions)
        => ModalityRegistry.Get(options.Encoder).ResolveShape(options, size, dimensions);

    /// <summary>Creates the encoder.</summary>
    public static ModalityEncoder Create(ModalityOptions options, int[] shape, FeatureStatistics stats)
    {
        var encoder = Build(options, shape, stats);
        encoder.LearningRateMultiplier = options.LearningRateMultiplier;
        return encoder;
    }

    private static ModalityEncoder Build(ModalityOptions options, int[] shape, FeatureStatistics stats) => ModalityRegistry.Get(options.Encoder).Create(options, shape, stats);

    /// <summary>
    /// A lower bound on the parameters of the encoders <see cref="Create"/> builds, from their options alone: the sum of
    /// each encoder kind's <see cref="IEncoderKind.MinimumParameters"/> (an MLP's input layer, a CNN's projection from its
    /// last feature map, an embedding table). Computed in
    /// doubles, so a configuration claiming more than <c>long</c> can count cannot overflow. The model reader uses it
    /// to reject a file whose weights cannot hold the network its configuration describes.
    /// </summary>
    public static double MinimumParameters(IReadOnlyList<ModalityOptions> modalities, int[][] shapes, int[] sizes)
    {
        double total = 0;
        for (int i = 0; i < Math.Min(modalities.Count, sizes.Length); i++)
            total += ModalityRegistry.Get(modalities[i].Encoder).MinimumParameters(modalities[i], i < shapes.Length ? shapes[i] : Array.Empty<int>(), sizes[i]);
        return total;
    }
}
