using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Persistence;

namespace MLNetFusion.Transforms.Text;

/// <summary>Options of <see cref="TextTokenHashingEstimator"/> (<c>mlContext.Transforms.HashTextTokens</c>).</summary>
public sealed class TextTokenHashingOptions
{
    /// <summary>Defaults.</summary>
    public static class Defaults
    {
        /// <summary>Default token slots per row.</summary>
        public const int MaximumTokens = 128;
        /// <summary>Default hash buckets (the text encoder's embedding rows; <c>ModalityOptions.Text</c> uses the same).</summary>
        public const int Buckets = 1 << 16;
        /// <summary>Default longest word n-gram (unigrams and bigrams).</summary>
        public const int WordNgrams = 2;
        /// <summary>Default character n-gram length (within words; 0 for none).</summary>
        public const int CharNgrams = 3;
    }

    /// <summary>Most token ids that <see cref="Buckets"/> may hold: ids are stored exactly in a <c>Single</c> up to 2^24.</summary>
    public const int MaxBuckets = 1 << 24;

    /// <summary>The output column: <c>Vector&lt;Single, MaximumTokens&gt;</c> of token ids.</summary>
    public string OutputColumnName { get; set; } = "Tokens";
    /// <summary>The text column (<c>String</c>). Default: <see cref="OutputColumnName"/>.</summary>
    public string? InputColumnName { get; set; }
    /// <summary>Token slots per row; a text with more n-grams keeps the first (words, then word n-grams, then character n-grams). Default 128.</summary>
    public int MaximumTokens { get; set; } = Defaults.MaximumTokens;
    /// <summary>Hash buckets: ids run from 1 to this value (0 pads). Default 65,536; at most 2^24.</summary>
    public int Buckets { get; set; } = Defaults.Buckets;
    /// <summary>Longest word n-gram: 1 for words only, 2 adds bigrams (default), up to 4.</summary>
    public int WordNgrams { get; set; } = Defaults.WordNgrams;
    /// <summary>Character n-gram length within each word (with boundary marks), 0 for none. Default 3; at most 6.</summary>
    public int CharNgrams { get; set; } = Defaults.CharNgrams;
    /// <summary>Seed of the hash, so that two columns can hash apart. Default 0.</summary>
    public uint Seed { get; set; }

    /// <summary>Checks the numbers and throws <see cref="ArgumentOutOfRangeException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputColumnName)) throw new ArgumentException("OutputColumnName is required.", nameof(OutputColumnName));
        Check.Positive(MaximumTokens, 65_536);
        Check.Positive(Buckets, MaxBuckets);
        Check.InRange(WordNgrams, 1, 4);
        Check.InRange(CharNgrams, 0, 6);
    }
}

/// <summary>
/// Turns free text into hashed token ids for MLNetFusion's trainable text encoder (<c>ModalityOptions.Text</c>): lower-cased
/// words, word n-grams and character n-grams within words, each hashed (FNV-1a) into <see cref="TextTokenHashingOptions.Buckets"/>
/// buckets numbered from 1, padded with 0 to <see cref="TextTokenHashingOptions.MaximumTokens"/> slots. Hashing needs no
/// vocabulary, so the transform learns nothing and unseen words still get ids.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>A <c>String</c> column.</description></item>
/// <item><term>Output</term><description><c>Vector&lt;Single, MaximumTokens&gt;</c> of ids (exact integers). An empty or whitespace-only text gives an all-NaN vector: the row's text modality is missing, as the fusion trainers define it. A text with no letters or digits (only punctuation) is present but has no tokens: all 0, an empty bag.</description></item>
/// <item><term>Package</term><description>MLNetFusion.Transforms.</description></item>
/// </list>
/// </remarks>
public sealed class TextTokenHashingEstimator : StatelessEstimator<TextTokenHashingTransformer>
{
    private readonly TextTokenHashingOptions _options;

    /// <summary>Creates the estimator.</summary>
    /// <param name="env">The ML.NET environment (an <see cref="MLContext"/>).</param>
    /// <param name="options">The options; validated here.</param>
    public TextTokenHashingEstimator(IHostEnvironment env, TextTokenHashingOptions options) : base(env, "MLNetFusion.HashTextTokens")
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <inheritdoc />
    protected override TextTokenHashingTransformer Create(DataViewSchema inputSchema) => new(_options);

    /// <inheritdoc />
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaShapes.RequireText(inputSchema, _options.InputColumnName ?? _options.OutputColumnName, "HashTextTokens", "TextTokenHashingOptions.InputColumnName");
        return SchemaShapes.Append(inputSchema, new[] { SchemaShapes.Column(_options.OutputColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
    }
}

/// <summary>The fitted <see cref="TextTokenHashingEstimator"/> (stateless).</summary>
public sealed class TextTokenHashingTransformer : BatchMappingTransformer, IFusionSaveable
{
    internal const string Kind = "MLNetFusion.HashTextTokens";

    string IFusionSaveable.ComponentKind => Kind;
    void IFusionSaveable.Save(ComponentWriter writer) => writer.WriteConfig(Options);

    internal static TextTokenHashingTransformer Load(ComponentReader reader)
    {
        var options = reader.ReadConfig<TextTokenHashingOptions>();
        try { options.Validate(); }
        catch (ArgumentException e) { throw reader.Invalid(e.Message); }
        return new(options);
    }

    internal TextTokenHashingTransformer(TextTokenHashingOptions options)  => Options = options;

    /// <summary>The options.</summary>
    public TextTokenHashingOptions Options { get; }

    private string Input => Options.InputColumnName ?? Options.OutputColumnName;

    /// <inheritdoc />
    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        var col = SchemaErrors.FindColumn(inputSchema, Input, "HashTextTokens reads a text column; check TextTokenHashingOptions.InputColumnName.");
        if (col.Type is not TextDataViewType)
            throw SchemaErrors.Mismatch(Input, "String", col.Type, "load the column as text (TextLoader DataKind.String).");
        return new[] { new OutputColumn(Options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, Options.MaximumTokens)) };
    }

    /// <inheritdoc />
    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(this);

    /// <summary>The ids of <paramref name="text"/> (without padding), in order: words, word n-grams, character n-grams.</summary>
    public IReadOnlyList<int> Hash(string text)
    {
        var ids = new List<int>();
        Hash(text.AsSpan(), ids);
        return ids;
    }

    private void Hash(ReadOnlySpan<char> text, List<int> ids)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        foreach (char ch in text)
        {
            if (char.IsLetterOrDigit(ch)) word.Append(char.ToLowerInvariant(ch));
            else if (word.Length > 0) { words.Add(word.ToString()); word.Clear(); }
        }
        if (word.Length > 0) words.Add(word.ToString());
        int max = Options.MaximumTokens;
        for (int n = 1; n <= Options.WordNgrams && ids.Count < max; n++)
            for (int i = 0; i + n <= words.Count && ids.Count < max; i++)
                ids.Add(Id('w', string.Join(' ', words.Skip(i).Take(n))));
        int c = Options.CharNgrams;
        if (c > 0)
            foreach (var w in words)
            {
                var marked = "<" + w + ">";
                for (int i = 0; i + c <= marked.Length && ids.Count < max; i++) ids.Add(Id('c', marked.Substring(i, c)));
                if (ids.Count >= max) break;
            }
    }

    private int Id(char kind, string token)
    {
        uint h = 2166136261u ^ Options.Seed;
        h = (h ^ kind) * 16777619u;
        foreach (char ch in token) { h = (h ^ (byte)ch) * 16777619u; h = (h ^ (byte)(ch >> 8)) * 16777619u; }
        return 1 + (int)(h % (uint)Options.Buckets);
    }

    private sealed class Mapper : BatchMapper
    {
        private readonly TextTokenHashingTransformer _parent;
        private readonly List<float[]> _out = new();
        private readonly List<int> _ids = new();
        private ValueGetter<ReadOnlyMemory<char>>? _getter;
        private ReadOnlyMemory<char> _text;

        public Mapper(TextTokenHashingTransformer parent) => _parent = parent;

        public override IReadOnlyList<string> InputColumns => new[] { _parent.Input };

        public override void Bind(DataViewRow input) => _getter = input.GetGetter<ReadOnlyMemory<char>>(input.Schema[_parent.Input]);

        public override void ReadRow(int slot, long position)
        {
            _getter!(ref _text);
            while (_out.Count <= slot) _out.Add(new float[_parent.Options.MaximumTokens]);
            var dst = _out[slot];
            if (_text.Span.IsWhiteSpace())
            {
                Array.Fill(dst, float.NaN);   // no text: the modality is missing for this row
                return;
            }
            _ids.Clear();
            _parent.Hash(_text.Span, _ids);
            Array.Clear(dst);
            for (int i = 0; i < _ids.Count; i++) dst[i] = _ids[i];
        }

        public override void Compute(int count, bool[] active) { }

        public override Delegate GetOutputGetter(int output, Func<int> slot)
            => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
            {
                var src = _out[slot()];
                var editor = VBufferEditor.Create(ref dst, src.Length);
                src.CopyTo(editor.Values);
                dst = editor.Commit();
            });
    }
}
