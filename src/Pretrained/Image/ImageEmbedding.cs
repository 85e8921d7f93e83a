using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Persistence;

namespace MLNetFusion.Pretrained.Image;

/// <summary>Options of <see cref="ImageEmbeddingEstimator"/> (<c>mlContext.Transforms.EmbedImages</c>).</summary>
public sealed class ImageEmbeddingOptions
{
    /// <summary>Defaults.</summary>
    public static class Defaults
    {
        /// <summary>Default output column.</summary>
        public const string OutputColumnName = "ImageEmbedding";
        /// <summary>Default images per cursor batch (the network itself runs one image at a time).</summary>
        public const int BatchSize = 16;
    }

    /// <summary>The output column: <c>Vector&lt;Single, 512&gt;</c> for ResNet18. Default <c>ImageEmbedding</c>.</summary>
    public string OutputColumnName { get; set; } = Defaults.OutputColumnName;

    /// <summary>The image column, as <c>LoadImages</c> writes it (any size: it is centre-cropped to a square and resized). Default: <see cref="OutputColumnName"/>.</summary>
    public string? InputColumnName { get; set; }

    /// <summary>The pretrained encoder. Default <see cref="ImageEncoderModel.ResNet18"/>.</summary>
    public ImageEncoderModel Model { get; set; } = ImageEncoderModel.ResNet18;

    /// <summary>Images read from the cursor per batch. Default 16.</summary>
    public int BatchSize { get; set; } = Defaults.BatchSize;

    /// <summary>
    /// A <c>DnnImageModels</c> folder that holds the weights; <c>null</c> looks beside the application, then in the NuGet
    /// global packages folder. Not saved: a model file names the weights by their hash, not by a path.
    /// </summary>
    [JsonIgnore]
    public string? ModelFolder { get; set; }

    /// <summary>ONNX Runtime's intra-op threads; <c>null</c> takes torch's (<c>MLNETFUSION_TORCH_THREADS</c>, else the core count). Not saved.</summary>
    [JsonIgnore]
    public int? NumberOfThreads { get; set; }

    /// <summary>Called every few seconds of a long pass with the images embedded so far by that cursor and the time spent. Not saved.</summary>
    [JsonIgnore]
    public Action<long, TimeSpan>? Progress { get; set; }

    /// <summary>Checks every member and throws naming the bad one; changes nothing.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputColumnName)) throw new ArgumentException("OutputColumnName is required.", nameof(OutputColumnName));
        if (!Enum.IsDefined(Model)) throw new ArgumentOutOfRangeException(nameof(Model), Model, $"Model must be one of {string.Join(", ", Enum.GetNames<ImageEncoderModel>())}.");
        if (BatchSize < 1 || BatchSize > 4096) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be in [1, 4096].");
        if (NumberOfThreads is < 1) throw new ArgumentOutOfRangeException(nameof(NumberOfThreads), NumberOfThreads, "NumberOfThreads must be positive, or null for the default.");
    }

    internal ImageEmbeddingOptions Clone() => (ImageEmbeddingOptions)MemberwiseClone();
}

/// <summary>
/// Embeds an image column with a pretrained ImageNet network (ResNet18 by default): each image centre-cropped to a
/// square, resized to 224×224 (area averaging when it shrinks, bilinear when it grows), less the package's mean image,
/// then the ONNX model run by ONNX Runtime; the output is its 512 pooled features. The weights come from the NuGet
/// package that ships them; nothing is downloaded. It learns nothing, so <c>Fit</c> only checks the schema.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>An image column (<c>LoadImages</c>), of any size.</description></item>
/// <item><term>Output</term><description><c>Vector&lt;Single, 512&gt;</c> (ResNet18), non-negative. A row without an image (an empty path) gives an all-NaN vector: a missing modality, as the fusion trainers define it.</description></item>
/// <item><term>Cost</term><description>About 1.8 GFLOP per image: tens of images a second on two cores. Cache the output (<c>mlContext.Data.Cache</c>) before training on it for several epochs.</description></item>
/// <item><term>Threads</term><description><see cref="ImageEmbeddingOptions.NumberOfThreads"/>, else torch's thread count (<c>MLNETFUSION_TORCH_THREADS</c>).</description></item>
/// <item><term>Package</term><description>MLNetFusion.Pretrained (which brings Microsoft.ML.DnnImageFeaturizer.ResNet18, 63 MB of weights).</description></item>
/// </list>
/// </remarks>
public sealed class ImageEmbeddingEstimator : StatelessEstimator<ImageEmbeddingTransformer>
{
    private readonly ImageEmbeddingOptions _options;

    /// <summary>Creates the estimator.</summary>
    /// <param name="env">The ML.NET environment (an <see cref="MLContext"/>).</param>
    /// <param name="options">The options; validated here.</param>
    public ImageEmbeddingEstimator(IHostEnvironment env, ImageEmbeddingOptions options) : base(env, "MLNetFusion.EmbedImages")
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
    }

    /// <inheritdoc />
    protected override ImageEmbeddingTransformer Create(DataViewSchema inputSchema) => new(_options.Clone());

    /// <inheritdoc />
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaShapes.RequireScalar(inputSchema, _options.InputColumnName ?? _options.OutputColumnName, t => t is ImageDataViewType, "Image",
            "EmbedImages reads an image column; check ImageEmbeddingOptions.InputColumnName.", ImageEmbeddingTransformer.LoadImagesHint);
        return SchemaShapes.Append(inputSchema, new[] { SchemaShapes.Column(_options.OutputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
    }
}

/// <summary>The fitted <see cref="ImageEmbeddingEstimator"/>: stateless; its model file names the encoder and the hash of its weights.</summary>
public sealed class ImageEmbeddingTransformer : PretrainedEmbeddingTransformer, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.EmbedImages";

    internal const string LoadImagesHint = "load the images first: mlContext.Transforms.LoadImages(...), then EmbedImages on its output column.";

    // Layout of the saved component (version 1): config = { options (columns, model, batch), the ONNX model's SHA-256 }.
    // The weights are not copied into the file: they are the package's, checked by hash at load.
    private sealed record Saved(ImageEmbeddingOptions Options, string ModelSha256);

    string IFusionSaveable.ComponentKind => Kind;

    void IFusionSaveable.Save(ComponentWriter writer) => writer.WriteConfig(new Saved(Options, Session.ModelSha256));

    internal static ImageEmbeddingTransformer Load(ComponentReader reader)
    {
        var saved = reader.ReadConfig<Saved>();
        try { saved.Options.Validate(); }
        catch (ArgumentException e) { throw reader.Invalid(e.Message); }
        var transformer = new ImageEmbeddingTransformer(saved.Options);
        var session = transformer.Session;
        if (!string.Equals(session.ModelSha256, saved.ModelSha256, StringComparison.Ordinal))
            throw reader.Invalid($"it was saved with {session.Source.DisplayName} weights of SHA-256 {saved.ModelSha256}, but the weights in '{session.Folder}' " +
                $"have SHA-256 {session.ModelSha256}, so its features would differ. " +
                $"Hint: reference {session.Source.Package} {session.Source.PackageVersion}, the version this MLNetFusion reads, or refit the model.");
        return transformer;
    }

    private readonly Lazy<ImageEncoderSession> _session;

    internal ImageEmbeddingTransformer(ImageEmbeddingOptions options)
        : base(options.BatchSize, ImageModelSource.For(options.Model).Width, options.OutputColumnName, options.InputColumnName ?? options.OutputColumnName, options.Progress)
    {
        Options = options;
        Source = ImageModelSource.For(options.Model);
        int threads = options.NumberOfThreads ?? Runtime.TorchRuntime.DefaultThreads();
        _session = new Lazy<ImageEncoderSession>(() => ImageEncoderSession.Get(options.Model, options.ModelFolder, threads));
    }

    /// <summary>The options.</summary>
    public ImageEmbeddingOptions Options { get; }

    private ImageModelSource Source { get; }

    internal ImageEncoderSession Session => _session.Value;

    /// <inheritdoc />
    public override string CostDescription => $"{Source.DisplayName} features of '{InputColumnName}'";

    private protected override void CheckInput(DataViewSchema inputSchema)
    {
        var col = SchemaErrors.FindColumn(inputSchema, InputColumnName, "EmbedImages reads an image column; check ImageEmbeddingOptions.InputColumnName.");
        if (col.Type is not ImageDataViewType) throw SchemaErrors.Mismatch(InputColumnName, "Image", col.Type, LoadImagesHint);
    }

    /// <inheritdoc />
    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(this, capacity);

    /// <summary>The features of one image (all NaN for <c>null</c>).</summary>
    /// <param name="image">The image, of any size.</param>
    public float[] Embed(MLImage? image)
    {
        var output = new float[Width];
        EmbedOne(image, output, new float[3 * Source.Side * Source.Side]);
        return output;
    }

    private void EmbedOne(MLImage? image, Span<float> output, float[] scratch)
    {
        if (image == null || image.Width == 0 || image.Height == 0) { output.Fill(float.NaN); return; }   // no image: missing modality
        ImagePreprocessing.CenterCropResizeBgr(image, Source.Side, scratch);
        EmbedPixels(scratch, output);
    }

    // Runs the network on cropped and resized BGR planes (changed in place: the mean image is subtracted); null: all NaN.
    private void EmbedPixels(float[]? pixels, Span<float> output)
    {
        if (pixels == null) { output.Fill(float.NaN); return; }
        var session = Session;
        var mean = session.MeanImage;
        for (int i = 0; i < pixels.Length; i++) pixels[i] -= mean[i];
        session.Embed(pixels, output);
    }

    // Each row's image is cropped and resized into its slot's pixels as it is read: an image from LoadImages may be
    // disposed when its cursor moves to the next row, so no image is held until the batch is embedded.
    private sealed class Mapper : EmbeddingMapper<float[]?>
    {
        private readonly ImageEmbeddingTransformer _parent;
        private readonly float[][] _pixels;
        private ValueGetter<MLImage>? _getter;

        public Mapper(ImageEmbeddingTransformer parent, int capacity) : base(parent, capacity)
        {
            _parent = parent;
            _pixels = new float[capacity][];
        }

        public override void Bind(DataViewRow input) => _getter = input.GetGetter<MLImage>(input.Schema[_parent.InputColumnName]);

        public override void ReadRow(int slot, long position)
        {
            MLImage image = null!;
            _getter!(ref image);
            if (image == null || image.Width == 0 || image.Height == 0) { Values[slot] = null; return; }   // no image: missing modality
            var pixels = _pixels[slot] ??= new float[3 * _parent.Source.Side * _parent.Source.Side];
            ImagePreprocessing.CenterCropResizeBgr(image, _parent.Source.Side, pixels);
            Values[slot] = pixels;
        }

        protected override void Embed(int count, Span<float> output)
        {
            int width = _parent.Width;
            for (int i = 0; i < count; i++) _parent.EmbedPixels(Values[i], output.Slice(i * width, width));
        }
    }
}

/// <summary>The image preprocessing of the pretrained image encoders, in managed code so training and serving share it.</summary>
internal static class ImagePreprocessing
{
    /// <summary>
    /// Writes the centre square of <paramref name="image"/>, resized to <paramref name="side"/>², into planar BGR floats
    /// in [0, 255] (<paramref name="output"/>: <c>[3, side, side]</c>). Shrinking averages each output pixel's source box
    /// (no aliasing from photos many times larger); growing interpolates bilinearly.
    /// </summary>
    public static void CenterCropResizeBgr(MLImage image, int side, float[] output)
    {
        int w = image.Width, h = image.Height, square = Math.Min(w, h), x0 = (w - square) / 2, y0 = (h - square) / 2;
        var pixels = image.Pixels;
        int bytesPerPixel = image.BitsPerPixel / 8;
        if (bytesPerPixel is not (1 or 3 or 4) || pixels.Length < w * h * bytesPerPixel)
            throw new InvalidDataException($"An image of {w}×{h} has {image.BitsPerPixel} bits per pixel and {pixels.Length} bytes, which EmbedImages cannot read." + Environment.NewLine +
                "Hint: load images with mlContext.Transforms.LoadImages (32-bit BGRA or RGBA).");
        // Byte offsets of blue, green and red within a pixel.
        (int b, int g, int r) = bytesPerPixel == 1 ? (0, 0, 0) : image.PixelFormat == MLPixelFormat.Rgba32 ? (2, 1, 0) : (0, 1, 2);
        int plane = side * side;
        double scale = (double)square / side;
        if (scale >= 1)
        {
            for (int oy = 0; oy < side; oy++)
            {
                int ys = y0 + (int)(oy * scale), ye = Math.Max(ys + 1, y0 + (int)((oy + 1) * scale));
                for (int ox = 0; ox < side; ox++)
                {
                    int xs = x0 + (int)(ox * scale), xe = Math.Max(xs + 1, x0 + (int)((ox + 1) * scale));
                    double sb = 0, sg = 0, sr = 0;
                    for (int y = ys; y < ye; y++)
                    {
                        int row = y * w;
                        for (int x = xs; x < xe; x++)
                        {
                            int p = (row + x) * bytesPerPixel;
                            sb += pixels[p + b]; sg += pixels[p + g]; sr += pixels[p + r];
                        }
                    }
                    double n = (ye - ys) * (xe - xs);
                    int o = oy * side + ox;
                    output[o] = (float)(sb / n); output[plane + o] = (float)(sg / n); output[2 * plane + o] = (float)(sr / n);
                }
            }
            return;
        }
        for (int oy = 0; oy < side; oy++)
        {
            double fy = Math.Clamp((oy + 0.5) * scale - 0.5, 0, square - 1);
            int ya = (int)fy, yb = Math.Min(ya + 1, square - 1);
            double wy = fy - ya;
            for (int ox = 0; ox < side; ox++)
            {
                double fx = Math.Clamp((ox + 0.5) * scale - 0.5, 0, square - 1);
                int xa = (int)fx, xb = Math.Min(xa + 1, square - 1);
                double wx = fx - xa;
                int o = oy * side + ox;
                int p00 = ((y0 + ya) * w + x0 + xa) * bytesPerPixel, p01 = ((y0 + ya) * w + x0 + xb) * bytesPerPixel;
                int p10 = ((y0 + yb) * w + x0 + xa) * bytesPerPixel, p11 = ((y0 + yb) * w + x0 + xb) * bytesPerPixel;
                for (int c = 0; c < 3; c++)
                {
                    int off = c == 0 ? b : c == 1 ? g : r;
                    output[c * plane + o] = (float)((1 - wy) * ((1 - wx) * pixels[p00 + off] + wx * pixels[p01 + off]) + wy * ((1 - wx) * pixels[p10 + off] + wx * pixels[p11 + off]));
                }
            }
        }
    }
}
