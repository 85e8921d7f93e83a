using MLNetFusion.Pretrained.Image;
using MLNetFusion.Pretrained.Text;
using MLNetFusion.Runtime;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>
/// MLNetFusion's pretrained encoders on <c>mlContext.Transforms</c> (package MLNetFusion.Pretrained):
/// <see cref="EmbedSentences(TransformsCatalog, string, string?, SentenceEncoderModel)"/> and
/// <see cref="EmbedImages(TransformsCatalog, string, string?, ImageEncoderModel)"/>.
/// </summary>
public static class PretrainedTransformsCatalog
{
    /// <summary>
    /// Embeds a text column with a pretrained sentence encoder (all-MiniLM-L6-v2: <c>Vector&lt;Single, 384&gt;</c>, unit
    /// length; an empty text gives an all-NaN row). The weights come from the package that ships them.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Output column.</param>
    /// <param name="inputColumnName">The text column; default <paramref name="outputColumnName"/>.</param>
    /// <param name="model">The encoder. Default MiniLM.</param>
    public static SentenceEmbeddingEstimator EmbedSentences(this TransformsCatalog catalog, string outputColumnName = SentenceEmbeddingOptions.Defaults.OutputColumnName,
        string? inputColumnName = null, SentenceEncoderModel model = SentenceEncoderModel.MiniLM)
        => new(FusionEnvironment.FromCatalog(catalog), new SentenceEmbeddingOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Model = model });

    /// <summary>Embeds a text column with all options.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">All options (see <see cref="SentenceEmbeddingOptions"/>).</param>
    public static SentenceEmbeddingEstimator EmbedSentences(this TransformsCatalog catalog, SentenceEmbeddingOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);

    /// <summary>
    /// Embeds an image column (<c>LoadImages</c>, any size) with a pretrained ImageNet network (ResNet18:
    /// <c>Vector&lt;Single, 512&gt;</c>; a row without an image gives an all-NaN row). The weights come from the package
    /// that ships them.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Output column.</param>
    /// <param name="inputColumnName">The image column; default <paramref name="outputColumnName"/>.</param>
    /// <param name="model">The encoder. Default ResNet18.</param>
    public static ImageEmbeddingEstimator EmbedImages(this TransformsCatalog catalog, string outputColumnName = ImageEmbeddingOptions.Defaults.OutputColumnName,
        string? inputColumnName = null, ImageEncoderModel model = ImageEncoderModel.ResNet18)
        => new(FusionEnvironment.FromCatalog(catalog), new ImageEmbeddingOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Model = model });

    /// <summary>Embeds an image column with all options.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">All options (see <see cref="ImageEmbeddingOptions"/>).</param>
    public static ImageEmbeddingEstimator EmbedImages(this TransformsCatalog catalog, ImageEmbeddingOptions options)
        => new(FusionEnvironment.FromCatalog(catalog), options);
}
