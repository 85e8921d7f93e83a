using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetFusion.Models;

/// <summary>
/// Declares one modality for a neural fusion trainer: its name, input column and encoder. The input shape comes from
/// the column's vector dimensions where present (ML.NET's <c>ExtractPixels</c> gives <c>[C, H, W]</c>, MLNetFusion's
/// <c>MelSpectrogram</c> gives <c>[bands, frames]</c>), else from <see cref="CnnEncoderOptions.Shape"/>.
/// </summary>
public sealed class ModalityOptions : IJsonOnDeserialized
{
    /// <summary>Defaults shared by the factory methods (each encoder's own settings have theirs: <see cref="MlpEncoderOptions.Defaults"/>, <see cref="CnnEncoderOptions.Defaults"/>, <see cref="EmbeddingBagEncoderOptions.Defaults"/>).</summary>
    public static class Defaults
    {
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
    [JsonIgnore]
    public string FeaturesColumn => FeaturesColumnName ?? ColumnName;

    /// <summary>
    /// For consumers that need dense input of bounded width (an MLP or LightGBM on concatenated features): a column of
    /// such features when <see cref="FeaturesColumn"/> is sparse and vocabulary-wide (for text: its bag of words
    /// hashed to 1,024 slots). <c>null</c> (default): <see cref="FeaturesColumn"/>. Not part of a trained
    /// network, so not saved with one.
    /// </summary>
    [JsonIgnore]
    public string? DenseFeaturesColumnName { get; set; }

    /// <summary>The column of bounded dense features: <see cref="DenseFeaturesColumnName"/>, else <see cref="FeaturesColumn"/>.</summary>
    [JsonIgnore]
    public string DenseFeaturesColumn => DenseFeaturesColumnName ?? FeaturesColumn;

    /// <summary>
    /// The encoder architecture: the kind of <see cref="EncoderOptions"/>. Setting another kind replaces
    /// <see cref="EncoderOptions"/> with that encoder's defaults (<see cref="IEncoderKind.CreateOptions"/>).
    /// </summary>
    [JsonIgnore]
    public EncoderKind Encoder
    {
        get => EncoderOptions.Kind;
        set
        {
            if (EncoderOptions.Kind != value)
                EncoderOptions = ModalityRegistry.IsRegistered(value) ? ModalityRegistry.Get(value).CreateOptions() : new UnregisteredEncoderOptions(value);
        }
    }

    /// <summary>
    /// The encoder and its own settings (<see cref="MlpEncoderOptions"/>, <see cref="CnnEncoderOptions"/>,
    /// <see cref="EmbeddingBagEncoderOptions"/>, or a registered encoder's). Default: an MLP at its defaults.
    /// </summary>
    public EncoderOptions EncoderOptions
    {
        get => _encoderOptions;
        set { _encoderOptions = value ?? throw new ArgumentNullException(nameof(value), "A modality needs its encoder's options." + Environment.NewLine + "Hint: set EncoderOptions = new MlpEncoderOptions(), new CnnEncoderOptions() or a registered encoder's options."); _encoderOptionsSet = true; }
    }

    private EncoderOptions _encoderOptions = new MlpEncoderOptions();

    /// <summary>The encoder's settings as <typeparamref name="TOptions"/>, to read or edit them in place.</summary>
    /// <exception cref="InvalidOperationException">The modality's encoder has settings of another type; the message names both.</exception>
    public TOptions EncoderOptionsAs<TOptions>() where TOptions : EncoderOptions
        => EncoderOptions as TOptions ?? throw new InvalidOperationException(
            $"Modality '{Name}' uses the {Encoder} encoder, whose settings are {EncoderOptions.GetType().Name}, not {typeof(TOptions).Name}." + Environment.NewLine +
            $"Hint: set EncoderOptions = new {typeof(TOptions).Name} {{ … }} to change the encoder, or read it as {EncoderOptions.GetType().Name}.");

    /// <summary>Dropout inside the encoder.</summary>
    public double Dropout { get; set; } = Defaults.Dropout;

    /// <summary>What the modality is (set by <see cref="Tabular"/>, <see cref="Image"/> and <see cref="Audio"/>); picks augmentation presets.</summary>
    public ModalityKind Kind { get; set; } = ModalityKind.Tabular;

    /// <summary>
    /// Training-time augmentation of this modality (<c>null</c>: the trainer's <c>AugmentationStrength</c> preset for
    /// <see cref="Kind"/>, or, on by default, for audio its kind's spectrogram preset at strength 0.5 and for
    /// text <see cref="ModalityAugmentation.TextWordDropoutStrength"/>'s word dropout). Set
    /// <c>new ModalityAugmentation()</c> (every setting 0) to switch it off for this modality. Never applied at inference.
    /// </summary>
    public ModalityAugmentation? Augmentation { get; set; }

    /// <summary>
    /// This modality's encoder learns at this multiple of the trainer's learning rate (its own AdamW parameter group,
    /// under the same schedule). Below 1 it slows a modality that dominates or overfits (a weak, noisy image branch); 0
    /// freezes the encoder at its initialisation. Default 1; at most 10.
    /// </summary>
    public double LearningRateMultiplier { get; set; } = 1;

    /// <summary>A tabular modality (MLP encoder; <paramref name="hiddenWidths"/> default to <see cref="MlpEncoderOptions.Defaults.HiddenWidths"/>).</summary>
    public static ModalityOptions Tabular(string columnName, string? name = null, params int[] hiddenWidths)
        => new() { Name = name ?? columnName, ColumnName = columnName, Kind = ModalityKind.Tabular,
            EncoderOptions = new MlpEncoderOptions { HiddenWidths = hiddenWidths.Length > 0 ? hiddenWidths.ToArray() : MlpEncoderOptions.Defaults.HiddenWidths } };

    /// <summary>An image modality (CNN encoder). Shape comes from the column (ExtractPixels) unless given.</summary>
    public static ModalityOptions Image(string columnName, string? name = null, int[]? shape = null)
        => new() { Name = name ?? columnName, ColumnName = columnName, Kind = ModalityKind.Image, EncoderOptions = new CnnEncoderOptions { Shape = shape } };

    /// <summary>An audio modality: a CNN over a <c>[bands, frames]</c> log-mel spectrogram.</summary>
    public static ModalityOptions Audio(string columnName, string? name = null, int[]? shape = null)
        => new() { Name = name ?? columnName, ColumnName = columnName, Kind = ModalityKind.Audio, EncoderOptions = new CnnEncoderOptions { Shape = shape } };

    /// <summary>
    /// A text modality: the trainable embedding-bag encoder over a column of hashed token ids from
    /// <c>mlContext.Transforms.HashTextTokens</c> (<see cref="EmbeddingBagEncoderOptions"/>: each token's embedding has 64
    /// values; their mean goes through <paramref name="hiddenWidths"/>, default 64). An empty text is a missing modality.
    /// </summary>
    public static ModalityOptions Text(string columnName, string? name = null, params int[] hiddenWidths)
        => new() { Name = name ?? columnName, ColumnName = columnName, Kind = ModalityKind.Text, Dropout = Defaults.TextDropout,
            EncoderOptions = new EmbeddingBagEncoderOptions { HiddenWidths = hiddenWidths.Length > 0 ? hiddenWidths.ToArray() : EmbeddingBagEncoderOptions.Defaults.HiddenWidths } };

    /// <summary>Widest encoder layer <see cref="Validate"/> accepts (hidden widths, output width, CNN channels).</summary>
    public const int MaxWidth = 4096;

    /// <summary>
    /// Checks every setting and throws <see cref="ArgumentException"/> naming the modality and the setting: names, a
    /// registered kind and encoder, dropout in [0, 1), the learning-rate multiplier, the augmentation, and the encoder's
    /// own settings (validated by its kind). Trainers call it, and so does loading a saved model.
    /// </summary>
    public void Validate()
    {
        string who = $"Modality '{Name}'";
        if (string.IsNullOrWhiteSpace(Name)) throw new ArgumentException($"A modality (column '{ColumnName}') has no Name.", nameof(Name));
        if (string.IsNullOrWhiteSpace(ColumnName)) throw new ArgumentException($"{who} has no ColumnName.", nameof(ColumnName));
        var encoder = ModalityRegistry.IsRegistered(Encoder) ? ModalityRegistry.Get(Encoder)
            : throw new ArgumentOutOfRangeException(nameof(Encoder), Encoder, $"{who}: encoder '{Encoder}' is not registered." + Environment.NewLine + "Hint: register it with ModalityRegistry.Register, or use Mlp, Cnn or EmbeddingBag.");
        if (EncoderOptions is UnregisteredEncoderOptions || encoder.CreateOptions().GetType() != EncoderOptions.GetType())
            throw new ArgumentException($"{who}: its EncoderOptions ({EncoderOptions.GetType().Name}) are not the settings type of encoder '{Encoder}' ({encoder.CreateOptions().GetType().Name})." +
                Environment.NewLine + $"Hint: set EncoderOptions = new {encoder.CreateOptions().GetType().Name} {{ … }}.", nameof(EncoderOptions));
        if (!ModalityRegistry.IsRegistered(Kind))
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"{who}: modality kind '{Kind}' is not registered." + Environment.NewLine + "Hint: register it with ModalityRegistry.Register, or use Tabular, Image, Audio or Text.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, $"{who}: Dropout must be in [0, 1).");
        if (!(LearningRateMultiplier >= 0 && LearningRateMultiplier <= 10))
            throw new ArgumentOutOfRangeException(nameof(LearningRateMultiplier), LearningRateMultiplier, $"{who}: LearningRateMultiplier must be in [0, 10].");
        Augmentation?.Validate();
        encoder.Validate(this);   // the encoder's own settings (an MLP's hidden widths, a CNN's blocks)
    }

    /// <summary>
    /// A deep copy: every public settable property (one mechanism, so a new option cannot be forgotten); arrays, the
    /// encoder's settings and the augmentation are copied, not shared.
    /// </summary>
    public ModalityOptions Clone()
    {
        var copy = new ModalityOptions();
        foreach (var p in CopiedProperties)
        {
            var value = p.GetValue(this);
            p.SetValue(copy, value switch { Array a => a.Clone(), ModalityAugmentation m => m.Clone(), EncoderOptions e => e.Clone(), _ => value });
        }
        return copy;
    }

    private static readonly System.Reflection.PropertyInfo[] CopiedProperties = typeof(ModalityOptions)
        .GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
        .Where(p => p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0 && p.Name != nameof(Encoder)).ToArray();   // Encoder is EncoderOptions' kind

    /// <summary>
    /// Settings of files written before encoders owned their options: the encoder's name and its settings beside the
    /// modality's (<c>hiddenWidths</c>, <c>convChannels</c>, <c>outputWidth</c>, <c>batchNorm</c>, <c>perClipNormalization</c>,
    /// <c>textBuckets</c>, <c>inputDropout</c>, <c>shape</c>), moved into <see cref="EncoderOptions"/> once the object is read.
    /// </summary>
    [JsonExtensionData, JsonInclude]
    internal Dictionary<string, JsonElement>? LegacySettings { get; set; }

    /// <summary>The encoder's name as files written before encoders owned their options stored it (read, never written).</summary>
    [JsonInclude, JsonPropertyName("encoder"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    internal EncoderKind? LegacyEncoder { get => null; set => _legacyEncoder = value; }

    private EncoderKind? _legacyEncoder;
    private bool _encoderOptionsSet;

    // Where an older file's flat setting lives in the encoder's options, when the name changed.
    private static readonly Dictionary<(Type, string), string> LegacyNames = new()
    {
        [(typeof(EmbeddingBagEncoderOptions), "textBuckets")] = nameof(EmbeddingBagEncoderOptions.Buckets),
        [(typeof(EmbeddingBagEncoderOptions), "outputWidth")] = nameof(EmbeddingBagEncoderOptions.EmbeddingWidth),
    };

    void IJsonOnDeserialized.OnDeserialized()
    {
        if (_legacyEncoder is { } kind)
        {
            _legacyEncoder = null;
            if (!_encoderOptionsSet) Encoder = kind;
            else if (kind != Encoder)
                throw new JsonException($"Modality '{Name}': its 'encoder' ({kind}) and its 'encoderOptions' kind ({Encoder}) differ." + Environment.NewLine + "Hint: the file was edited by hand; save the model again.");
        }
        if (LegacySettings is not { } legacy) return;
        LegacySettings = null;
        if (EncoderOptions is UnregisteredEncoderOptions) return;
        var type = EncoderOptions.GetType();
        foreach (var (key, value) in legacy)
        {
            string name = LegacyNames.TryGetValue((type, key), out var renamed) ? renamed : key;
            var property = type.GetProperty(name, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase);
            // Files of that time wrote every encoder's settings on every modality: only this encoder's apply.
            if (property is { CanWrite: true })
                property.SetValue(EncoderOptions, value.Deserialize(property.PropertyType, Persistence.PersistenceJson.Options));
        }
    }
}
