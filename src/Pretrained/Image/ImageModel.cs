using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MLNetFusion.Pretrained.Image;

/// <summary>The pretrained image encoders MLNetFusion can run, each from a NuGet package that ships its weights.</summary>
public enum ImageEncoderModel
{
    /// <summary>
    /// ResNet18 trained on ImageNet (He et al., 2016), as ML.NET's <c>DnnFeaturizeImage</c> ships it (MIT): 224×224 BGR
    /// input less the package's mean image, 512 features from its global average pooling. Weights from the NuGet package
    /// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> 0.24.0 (its <c>DnnImageModels</c> folder).
    /// </summary>
    ResNet18,
}

/// <summary>Where an image encoder's weights come from and what it takes and gives.</summary>
internal sealed record ImageModelSource(ImageEncoderModel Model, string DisplayName, string Package, string PackageVersion, string ModelFile, string PreprocessFile,
    int Side, int Width)
{
    public static ImageModelSource For(ImageEncoderModel model) => model switch
    {
        ImageEncoderModel.ResNet18 => new(model, "ResNet18 (ImageNet)", "Microsoft.ML.DnnImageFeaturizer.ResNet18", "0.24.0",
            Path.Combine("ResNet18Onnx", "ResNet18.onnx"), Path.Combine("ResNetPrepOnnx", "ResNetPreprocess.onnx"), 224, 512),
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, $"Unknown image encoder model {model}." + Environment.NewLine +
            $"Hint: use one of {string.Join(", ", Enum.GetNames<ImageEncoderModel>())}."),
    };

    /// <summary>
    /// The folders searched for the package's <c>DnnImageModels</c>, in order: the one the options name, the
    /// application's own folder (where the package's build step copies it), then the NuGet global packages folder
    /// (<c>NUGET_PACKAGES</c>, else <c>~/.nuget/packages</c>), where any restore of the package left it.
    /// </summary>
    public IReadOnlyList<string> Candidates(string? modelFolder)
    {
        var list = new List<string>();
        if (!string.IsNullOrEmpty(modelFolder)) list.Add(Path.GetFullPath(modelFolder));
        list.Add(Path.Combine(AppContext.BaseDirectory, "DnnImageModels"));
        string? packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packages))
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            if (!string.IsNullOrEmpty(home)) packages = Path.Combine(home, ".nuget", "packages");
        }
        if (!string.IsNullOrEmpty(packages)) list.Add(Path.Combine(packages, Package.ToLowerInvariant(), PackageVersion, "tools", "DnnImageModels"));
        return list;
    }

    /// <summary>The first candidate folder that holds both files, or <c>null</c>.</summary>
    public string? Find(string? modelFolder)
        => Candidates(modelFolder).FirstOrDefault(f => File.Exists(Path.Combine(f, ModelFile)) && File.Exists(Path.Combine(f, PreprocessFile)));

    /// <summary>The folder that holds the weights, or an error that lists where it looked and how to fix it.</summary>
    public string Locate(string? modelFolder) => Find(modelFolder) ?? throw new FileNotFoundException(
        $"The pretrained image encoder {DisplayName} needs '{ModelFile}' and '{PreprocessFile}' from the NuGet package '{Package}' ({PackageVersion}), " +
        $"but no folder holds them; looked in: {string.Join("; ", Candidates(modelFolder))}." + Environment.NewLine +
        $"Hint: add the package to the application (dotnet add package {Package} --version {PackageVersion}), whose build copies its DnnImageModels folder beside the application, " +
        "or set ImageEmbeddingOptions.ModelFolder to a DnnImageModels folder.", Path.Combine(Candidates(modelFolder)[0], ModelFile));
}

/// <summary>
/// One pretrained image encoder loaded once per process, folder and thread count: ResNet18's ONNX model run with
/// MLNetFusion's own ONNX Runtime session (its thread count set). The package's preprocessing model subtracts a mean
/// image; it is run once, on zeros, to read that image, which every row then subtracts in managed code. The model's
/// batch dimension is fixed at 1, so rows run one at a time. Sessions are thread-safe.
/// </summary>
internal sealed class ImageEncoderSession
{
    private static readonly ConcurrentDictionary<(ImageEncoderModel, string, int), Lazy<ImageEncoderSession>> Cache = new();

    private readonly InferenceSession _session;
    private readonly string _input, _output;

    public static ImageEncoderSession Get(ImageEncoderModel model, string? modelFolder, int threads)
    {
        var source = ImageModelSource.For(model);
        string folder = source.Locate(modelFolder);
        return Cache.GetOrAdd((model, folder, threads), key => new Lazy<ImageEncoderSession>(() => new ImageEncoderSession(source, key.Item2, key.Item3))).Value;
    }

    private ImageEncoderSession(ImageModelSource source, string folder, int threads)
    {
        Source = source;
        Folder = folder;
        var onnx = File.ReadAllBytes(Path.Combine(folder, source.ModelFile));
        ModelSha256 = Convert.ToHexString(SHA256.HashData(onnx)).ToLowerInvariant();
        var options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        _session = new InferenceSession(onnx, options);
        _input = _session.InputMetadata.Keys.Single();
        _output = _session.OutputMetadata.Keys.First();
        MeanImage = ReadMeanImage(Path.Combine(folder, source.PreprocessFile), source.Side);
    }

    public ImageModelSource Source { get; }

    /// <summary>The DnnImageModels folder the weights were read from.</summary>
    public string Folder { get; }

    /// <summary>SHA-256 of the ONNX model, written into saved models so a different package version is caught at load.</summary>
    public string ModelSha256 { get; }

    /// <summary>The mean image the package's preprocessing subtracts, planar <c>[3, side, side]</c> in the model's BGR order.</summary>
    public float[] MeanImage { get; }

    // The preprocessing model must be x - mean: checked on 0 and 1, so another package version cannot change it unnoticed.
    private static float[] ReadMeanImage(string path, int side)
    {
        using var prep = new InferenceSession(path);
        string input = prep.InputMetadata.Keys.Single();
        int n = 3 * side * side;
        float[] Run(float value)
        {
            var x = new DenseTensor<float>(Enumerable.Repeat(value, n).ToArray(), new[] { 1, 3, side, side });
            using var r = prep.Run(new[] { NamedOnnxValue.CreateFromTensor(input, x) });
            return r[0].AsTensor<float>().ToArray();
        }
        var zero = Run(0);
        var one = Run(1);
        if (zero.Length != n || one.Length != n || Enumerable.Range(0, n).Any(i => Math.Abs(one[i] - zero[i] - 1) > 1e-3))
            throw new InvalidDataException($"The preprocessing model '{path}' is not the subtraction of a mean image that this MLNetFusion reads." + Environment.NewLine +
                "Hint: reference Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0 exactly.");
        for (int i = 0; i < n; i++) zero[i] = -zero[i];
        return zero;
    }

    /// <summary>Runs the network on one preprocessed image (<c>[3, side, side]</c>, mean subtracted) into <paramref name="output"/>.</summary>
    public void Embed(float[] input, Span<float> output)
    {
        int side = Source.Side;
        var x = new DenseTensor<float>(input, new[] { 1, 3, side, side });
        using var results = _session.Run(new[] { NamedOnnxValue.CreateFromTensor(_input, x) }, new[] { _output });
        var features = results[0].AsTensor<float>() as DenseTensor<float> ?? throw new InvalidOperationException("ONNX Runtime returned non-dense features.");
        features.Buffer.Span.Slice(0, Source.Width).CopyTo(output);
    }
}
