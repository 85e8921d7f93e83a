namespace MLNetFusion.Models;

/// <summary>
/// Declares one modality for a neural fusion trainer: its name, input column and encoder. The input shape comes from
/// the column's vector dimensions where present (ML.NET's <c>ExtractPixels</c> gives <c>[C, H, W]</c>, MLNetFusion's
/// <c>MelSpectrogram</c> gives <c>[bands, frames]</c>), else from <see cref="Shape"/>.
/// </summary>
public sealed class ModalityOptions
{
    /// <summary>Defaults shared by the factory methods.</summary>
    public static class Defaults
    {
        /// <summary>Default MLP hidden widths.</summary>
        public static int[] HiddenWidths => new[] { 128, 64 };
        /// <summary>Default CNN channels (two blocks, as the reference design).</summary>
        public static int[] ConvChannels => new[] { 16, 32 };
        /// <summary>Default CNN projection width.</summary>
        public const int OutputWidth = 64;
        /// <summary>Default dropout inside encoders.</summary>
        public const double Dropout = 0.1;
        /// <summary>
        /// Default dropout inside text encoders (<see cref="ModalityOptions.Text"/>): an embedding bag over a few thousand
        /// rows overfits its rarer words (chosen against a linear model on the same words; docs/benchmarks.md).
        /// </summary>
        public const double TextDropout = 0.5;
    }

    /// <summary>Modality name, used in logs, auxiliary heads and per-modality outputs. Must be unique.</summary>
    public string Name { get; set; } = "";

    /// <summary>The <c>Vector&lt;Single&gt;</c> input column.</summary>
    public string ColumnName { get; set; } = "";

    /// <summary>
    /// For the consumers that read fixed features rather than this modality's encoder input — early fusion's
    /// <c>Concatenate</c>, linear late-fusion members, the sweep's early and late families — a column of such features
    /// (for text: <c>FeaturizeText</c>'s n-gram vector, while <see cref="ColumnName"/> holds token ids). <c>null</c>
    /// (default): <see cref="ColumnName"/>.
    /// </summary>
    public string? FeaturesColumnName { get; set; }

    /// <summary>The column of fixed features: <see cref="FeaturesColumnName"/>, else <see cref="ColumnName"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string FeaturesColumn => FeaturesColumnName ?? ColumnName;

    /// <summary>
    /// For consumers that need dense input of bounded width (an MLP or LightGBM on concatenated features): a column of
    /// such features when <see cref="FeaturesColumn"/> is sparse and vocabulary-wide (for text: its bag of words
    /// hashed to 1,024 slots). <c>null</c> (default): <see cref="FeaturesColumn"/>. Not part of a trained
    /// network, so not saved with one.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? DenseFeaturesColumnName { get; set; }

    /// <summary>The column of bounded dense features: <see cref="DenseFeaturesColumnName"/>, else <see cref="FeaturesColumn"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string DenseFeaturesColumn => DenseFeaturesColumnName ?? FeaturesColumn;

    /// <summary>The encoder architecture.</summary>
    public EncoderKind Encoder { get; set; } = EncoderKind.Mlp;

    /// <summary>
    /// Per-row shape for <see cref="EncoderKind.Cnn"/>: <c>[C, H, W]</c> or <c>[H, W]</c>. <c>null</c> takes it from the
    /// column's vector dimensions. Must multiply to the column's size.
    /// </summary>
    public int[]? Shape { get; set; }

    /// <summary>Hidden widths of an <see cref="EncoderKind.Mlp"/> encoder; the last is its output width.</summary>
    public int[] HiddenWidths { get; set; } = Defaults.HiddenWidths.ToArray();

    /// <summary>Channels of each conv block of a <see cref="EncoderKind.Cnn"/> encoder.</summary>
    public int[] ConvChannels { get; set; } = Defaults.ConvChannels.ToArray();

    /// <summary>Output width of a <see cref="EncoderKind.Cnn"/> encoder.</summary>
    public int OutputWidth { get; set; } = Defaults.OutputWidth;

    /// <summary>Dropout inside the encoder.</summary>
    public double Dropout { get; set; } = Defaults.Dropout;

    /// <summary>Dropout on the standardised inputs of an <see cref="EncoderKind.Mlp"/> encoder. Default 0.</summary>
    public double InputDropout { get; set; }

    /// <summary>
    /// Insert BatchNorm after each convolution. Default true: the reference design (conv, ReLU, max-pool) without it
    /// trained to very different accuracies depending on the initialisation (tens of points across seeds of the same
    /// family on the generated dataset). Set false for the reference design exactly.
    /// </summary>
    public bool BatchNorm { get; set; } = true;

    /// <summary>What the modality is (set by <see cref="Tabular"/>, <see cref="Image"/> and <see cref="Audio"/>); picks augmentation presets.</summary>
    public ModalityKind Kind { get; set; } = ModalityKind.Tabular;

    /// <summary>
    /// Training-time augmentation of this modality (<c>null</c>: the trainer's <c>AugmentationStrength</c> preset for
    /// <see cref="Kind"/>, or, on by default, for audio its <c>AudioAugmentationStrength</c> spectrogram preset and for
    /// text <see cref="ModalityAugmentation.TextWordDropoutStrength"/>'s word dropout). Set
    /// <c>new ModalityAugmentation()</c> (every setting 0) to switch it off for this modality. Never applied at inference.
    /// </summary>
    public ModalityAugmentation? Augmentation { get; set; }

    /// <summary>
    /// For a spectrogram (<see cref="EncoderKind.Cnn"/> over <c>[1, bands, frames]</c>): normalise each band over the
    /// clip's frames inside the encoder (CMVN, as <c>MelSpectrogramOptions.Normalization</c> does in featurization), so
    /// that a trainer or a sweep can choose it. A silent clip gives zeros, never NaN. Default false.
    /// </summary>
    public bool PerClipNormalization { get; set; }

    /// <summary>
    /// This modality's encoder learns at this multiple of the trainer's learning rate (its own AdamW parameter group,
    /// under the same schedule). Below 1 it slows a modality that dominates or overfits (a weak, noisy image branch); 0
    /// freezes the encoder at its initialisation. Default 1; at most 10.
    /// </summary>
    public double LearningRateMultiplier { get; set; } = 1;

    /// <summary>
    /// Hash buckets of an <see cref="EncoderKind.EmbeddingBag"/> encoder: rows of its embedding table. Default 65,536, as
    /// <c>HashTextTokens</c>; ids above it are folded in (id mod buckets), so a smaller table still works.
    /// </summary>
    public int TextBuckets { get; set; } = 1 << 16;

    /// <summary>A tabular modality (MLP encoder).</summary>
    public static ModalityOptions Tabular(string columnName, string? name = null, params int[] hiddenWidths)
        => new() { Name = name ?? columnName, ColumnName = columnName, Encoder = EncoderKind.Mlp, Kind = ModalityKind.Tabular, HiddenWidths = hiddenWidths.Length > 0 ? hiddenWidths.ToArray() : Defaults.HiddenWidths };

    /// <summary>An image modality (CNN encoder). Shape comes from the column (ExtractPixels) unless given.</summary>
    public static ModalityOptions Image(string columnName, string? name = null, int[]? shape = null)
        => new() { Name = name ?? columnName, ColumnName = columnName, Encoder = EncoderKind.Cnn, Kind = ModalityKind.Image, Shape = shape };

    /// <summary>An audio modality: a CNN over a <c>[bands, frames]</c> log-mel spectrogram.</summary>
    public static ModalityOptions Audio(string columnName, string? name = null, int[]? shape = null)
        => new() { Name = name ?? columnName, ColumnName = columnName, Encoder = EncoderKind.Cnn, Kind = ModalityKind.Audio, Shape = shape };

    /// <summary>
    /// A text modality: the trainable embedding-bag encoder over a column of hashed token ids from
    /// <c>mlContext.Transforms.HashTextTokens</c>. Each token's embedding has <see cref="OutputWidth"/> values (default 64);
    /// the mean over the row's tokens goes through <see cref="HiddenWidths"/> (default 64). An empty text is a missing modality.
    /// </summary>
    public static ModalityOptions Text(string columnName, string? name = null, params int[] hiddenWidths)
        => new() { Name = name ?? columnName, ColumnName = columnName, Encoder = EncoderKind.EmbeddingBag, Kind = ModalityKind.Text, Dropout = Defaults.TextDropout,
            HiddenWidths = hiddenWidths.Length > 0 ? hiddenWidths.ToArray() : new[] { 64 } };

    /// <summary>Widest encoder layer <see cref="Validate"/> accepts (hidden widths, output width, CNN channels).</summary>
    public const int MaxWidth = 4096;

    /// <summary>
    /// Checks every setting and throws <see cref="ArgumentException"/> naming the modality and the setting: names, widths
    /// and channels in [1, 4096], dropouts in [0, 1), a positive shape, buckets in [1, 2^24], and the augmentation.
    /// Trainers call it, and so does loading a saved model.
    /// </summary>
    public void Validate()
    {
        string who = $"Modality '{Name}'";
        if (string.IsNullOrWhiteSpace(Name)) throw new ArgumentException($"A modality (column '{ColumnName}') has no Name.", nameof(Name));
        if (string.IsNullOrWhiteSpace(ColumnName)) throw new ArgumentException($"{who} has no ColumnName.", nameof(ColumnName));
        var encoder = ModalityRegistry.IsRegistered(Encoder) ? ModalityRegistry.Get(Encoder)
            : throw new ArgumentOutOfRangeException(nameof(Encoder), Encoder, $"{who}: encoder '{Encoder}' is not registered." + Environment.NewLine + "Hint: register it with ModalityRegistry.Register, or use Mlp, Cnn or EmbeddingBag.");
        if (!ModalityRegistry.IsRegistered(Kind))
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"{who}: modality kind '{Kind}' is not registered." + Environment.NewLine + "Hint: register it with ModalityRegistry.Register, or use Tabular, Image, Audio or Text.");
        void Fraction(double v, string setting)
        {
            if (!(v >= 0 && v < 1)) throw new ArgumentOutOfRangeException(setting, v, $"{who}: {setting} must be in [0, 1).");
        }
        void Width(int v, string setting)
        {
            if (v < 1 || v > MaxWidth) throw new ArgumentOutOfRangeException(setting, v, $"{who}: {setting} must be in [1, {MaxWidth}].");
        }
        Fraction(Dropout, nameof(Dropout));
        Fraction(InputDropout, nameof(InputDropout));
        if (HiddenWidths == null) throw new ArgumentException($"{who}: HiddenWidths is null.", nameof(HiddenWidths));
        if (HiddenWidths.Length > 16) throw new ArgumentOutOfRangeException(nameof(HiddenWidths), HiddenWidths.Length, $"{who}: at most 16 hidden layers.");
        foreach (int w in HiddenWidths) Width(w, nameof(HiddenWidths));
        if (ConvChannels == null || ConvChannels.Length > 8) throw new ArgumentException($"{who}: ConvChannels needs 1 to 8 blocks for a CNN encoder.", nameof(ConvChannels));
        foreach (int c in ConvChannels) Width(c, nameof(ConvChannels));
        Width(OutputWidth, nameof(OutputWidth));
        if (Shape != null && (Shape.Length is < 2 or > 3 || Shape.Any(d => d < 1 || d > 1 << 16)))
            throw new ArgumentOutOfRangeException(nameof(Shape), $"{who}: Shape must be [channels, height, width] or [height, width] of positive sizes.");
        if (!(LearningRateMultiplier >= 0 && LearningRateMultiplier <= 10))
            throw new ArgumentOutOfRangeException(nameof(LearningRateMultiplier), LearningRateMultiplier, $"{who}: LearningRateMultiplier must be in [0, 10].");
        if (TextBuckets < 1 || TextBuckets > 1 << 24) throw new ArgumentOutOfRangeException(nameof(TextBuckets), TextBuckets, $"{who}: TextBuckets must be in [1, 2^24].");
        Augmentation?.Validate();
        encoder.Validate(this);   // what the encoder needs (an MLP's hidden widths, a CNN's blocks)
    }

    /// <summary>
    /// A deep copy: every public settable property (one mechanism, so a new option cannot be forgotten); arrays and
    /// the augmentation are copied, not shared.
    /// </summary>
    public ModalityOptions Clone()
    {
        var copy = new ModalityOptions();
        foreach (var p in CopiedProperties)
        {
            var value = p.GetValue(this);
            p.SetValue(copy, value switch { Array a => a.Clone(), ModalityAugmentation m => m.Clone(), _ => value });
        }
        return copy;
    }

    private static readonly System.Reflection.PropertyInfo[] CopiedProperties = typeof(ModalityOptions)
        .GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
        .Where(p => p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0).ToArray();
}
