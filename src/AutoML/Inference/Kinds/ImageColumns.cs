using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using MLNetFusion.Models;

namespace MLNetFusion.AutoML;

/// <summary>The preprocessing inferred for an image column.</summary>
/// <param name="Width">Resize width (the most common size among the decoded files, at most <see cref="ImageColumnInferenceOptions.MaxSide"/>).</param>
/// <param name="Height">Resize height.</param>
/// <param name="Grayscale">Whether every decoded image is gray (one channel), else three channels.</param>
/// <param name="FilesDecoded">Files decoded to decide.</param>
public sealed record ImageColumnSettings(int Width, int Height, bool Grayscale, int FilesDecoded) : ModalityColumnSettings
{
    /// <summary>Channels of the extracted pixels.</summary>
    public int Channels => Grayscale ? 1 : 3;

    /// <inheritdoc />
    public override string Summary => $"resized to {Width}×{Height}, {(Grayscale ? "gray" : "RGB")} ({FilesDecoded} files decoded)";
}

/// <summary>What image column inference may decide (<c>ColumnInferenceOptions.For&lt;ImageColumnInferenceOptions&gt;(ModalityKind.Image)</c>).</summary>
public sealed class ImageColumnInferenceOptions : ModalityColumnInferenceOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Images larger than this on their longer side are resized down to it (aspect kept).</summary>
        public const int MaxSide = 64;
        /// <summary>Largest side of a greyscale image that keeps the CNN trained from scratch (digits, glyphs, icons).</summary>
        public const int SmallGreySide = 32;
    }

    /// <summary>See <see cref="Defaults.MaxSide"/>.</summary>
    public int MaxSide { get; set; } = Defaults.MaxSide;

    /// <summary>
    /// Greyscale images at most this large on their longer side keep the CNN trained from scratch even when a
    /// pretrained image featurizer is available: digits, glyphs and icons are far from the colour photos ImageNet
    /// features describe (measured on avdigits' digits in docs/benchmarks.md). See <see cref="Defaults.SmallGreySide"/>.
    /// </summary>
    public int SmallGreySide { get; set; } = Defaults.SmallGreySide;

    /// <inheritdoc />
    public override void Validate()
    {
        Check.InRange(MaxSide, 4, 4096);
        Check.InRange(SmallGreySide, 0, 4096);
    }
}

/// <summary>
/// Image columns: paths with image extensions. Each is loaded (<c>LoadImages</c>), resized to the most common size
/// (<c>ResizeImages</c>) and turned into pixels (<c>ExtractPixels</c>) for a CNN; photos also go through the registered
/// pretrained image featurizer (ResNet18's ImageNet features) before the resize, which the neural families project
/// with an MLP and linear models read instead of pixels.
/// </summary>
internal sealed class ImageColumnInference : IModalityColumnInference
{
    private static readonly string[] Extensions = { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff" };

    public string? Recognize(string columnName, IReadOnlyList<string> values)
        => ColumnShare.OfPresent(values, v => Extensions.Any(e => v.EndsWith(e, StringComparison.OrdinalIgnoreCase))) >= 0.9 ? "paths with image extensions" : null;

    public ModalityColumnInferenceOptions CreateOptions() => new ImageColumnInferenceOptions();

    public string OutputColumnName(string inputColumnName, int columnsOfKind) => columnsOfKind == 1 ? FusionFeaturization.Pixels : inputColumnName + ".Pixels";

    public ModalityColumnSettings InferSettings(ModalityColumnContext column)
    {
        var options = column.OptionsAs(() => new ImageColumnInferenceOptions());
        var files = column.FilesToCheck();
        var sizes = new List<(int w, int h)>();
        bool gray = true;
        foreach (var (value, line) in files)
        {
            var full = column.ResolveFile(value, line, "image");
            using var image = column.Decode(() => MLImage.CreateFromFile(full), value, line, "image",
                "check that the file is a PNG, JPEG, BMP, GIF or WebP image, or mark the column Ignored.");
            sizes.Add((image.Width, image.Height));
            if (gray) gray = IsGray(image);
        }
        var (w, h) = sizes.GroupBy(s => s).OrderByDescending(g => g.Count()).First().Key;
        if (Math.Max(w, h) > options.MaxSide)
        {
            double scale = options.MaxSide / (double)Math.Max(w, h);
            (w, h) = (Math.Max(1, (int)Math.Round(w * scale)), Math.Max(1, (int)Math.Round(h * scale)));
        }
        return new ImageColumnSettings(w, h, gray, files.Count);
    }

    public string EncoderNote(ModalityColumnContext column) => Encoder(column).reason;

    public ModalityFeaturization Featurize(MLContext ml, ModalityColumnContext column)
    {
        var s = column.SettingsAs<ImageColumnSettings>();
        string c = column.InputColumnName, pixels = column.OutputColumnName;
        string loaded = pixels == FusionFeaturization.Pixels ? "Image" : c + ".Image";
        IEstimator<ITransformer> chain = ml.Transforms.LoadImages(loaded, column.DataFolder, c);
        string? embedded = null, filled = null;
        var pretrained = Encoder(column).pretrained;
        if (pretrained != null)
        {
            // A frozen ImageNet network on the full image (before the resize below), computed once per row (the
            // leaderboard caches the featurized rows) and projected by a trainable MLP in the neural families; its
            // features (0 for no image) are what linear models and dense trainers read instead of raw pixels. No
            // trainable step reads them here: fitting one (a normaliser) would run the network over every
            // training row once more before the rows are cached.
            embedded = c + ".Pretrained";
            filled = c + ".PretrainedFilled";
            var progress = column.PretrainedProgress is { } report ? (rows, elapsed) => report($"{pretrained.Name} of '{c}'", rows, elapsed) : (Action<long, TimeSpan>?)null;
            chain = chain.Append(pretrained.Create(ml, embedded, loaded, progress))
                .Append(ml.Transforms.ReplaceMissingValues(filled, embedded, MissingValueReplacingEstimator.ReplacementMode.DefaultValue));
        }
        chain = chain.Append(ml.Transforms.ResizeImages(loaded, s.Width, s.Height))
            .Append(ml.Transforms.ExtractPixels(pixels, loaded, s.Grayscale ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb,
                scaleImage: 1f / 255));
        if (embedded == null) return new ModalityFeaturization(chain, ModalityOptions.Image(pixels, c, new[] { s.Channels, s.Height, s.Width }));
        // An MLP on the image's pretrained features; the plain baselines keep the pixels a user's first pipeline reads.
        var m = ModalityOptions.Image(embedded, c);
        m.EncoderOptions = new MlpEncoderOptions { HiddenWidths = new[] { 128 } };
        m.FeaturesColumnName = pixels;
        return new ModalityFeaturization(chain, m) { PretrainedFeaturesColumnName = filled, PretrainedEncoderName = pretrained!.Name };
    }

    /// <summary>
    /// The encoder an image column gets, and why: the registered pretrained featurizer (ResNet18's ImageNet features)
    /// for photos; a CNN trained from scratch for small greyscale images (<see cref="ImageColumnInferenceOptions.SmallGreySide"/>),
    /// when turned off, or when the featurizer cannot run.
    /// </summary>
    private static (IPretrainedFeaturizer? pretrained, string reason) Encoder(ModalityColumnContext column)
    {
        const string cnn = "a CNN trained from scratch";
        if (!column.UsePretrained || PretrainedFeaturizers.Image is not { } image) return (null, cnn);
        if (image.Unavailable is { } why) return (null, $"{cnn} ({image.Name} cannot run: {why})");
        int small = column.OptionsAs(() => new ImageColumnInferenceOptions()).SmallGreySide;
        if (column.Settings is ImageColumnSettings s && s.Grayscale && Math.Max(s.Width, s.Height) <= small)
            return (null, $"{cnn} (small greyscale images, {s.Width}×{s.Height}: {image.Name} describe colour photos)");
        return (image, $"{image.Name} (frozen, then an MLP); linear models read its features");
    }

    private static bool IsGray(MLImage image)
    {
        var px = image.Pixels;
        int step = image.BitsPerPixel / 8;
        if (step < 3) return true;
        for (int i = 0; i + 2 < px.Length; i += step)
            if (px[i] != px[i + 1] || px[i] != px[i + 2]) return false;
        return true;
    }
}

/// <summary>Shares of a column's values, for recognisers.</summary>
internal static class ColumnShare
{
    /// <summary>The share of the non-empty values that satisfy <paramref name="test"/> (0 when there are none).</summary>
    public static double OfPresent(IReadOnlyList<string> values, Func<string, bool> test)
    {
        int present = 0, hits = 0;
        foreach (var v in values)
            if (v.Length > 0) { present++; if (test(v)) hits++; }
        return present == 0 ? 0 : hits / (double)present;
    }
}
