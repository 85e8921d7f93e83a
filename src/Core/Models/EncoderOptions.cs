using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetFusion.Models;

/// <summary>
/// The settings of one encoder architecture (as a Ludwig encoder's own config): each <see cref="IEncoderKind"/> owns a
/// subclass, creates its defaults (<see cref="IEncoderKind.CreateOptions"/>) and validates it. A modality holds one in
/// <see cref="ModalityOptions.EncoderOptions"/>; a model file stores it by the encoder's name and the options' version.
/// </summary>
[JsonConverter(typeof(EncoderOptionsJsonConverter))]
public abstract class EncoderOptions
{
    /// <summary>The encoder these settings are for.</summary>
    [JsonIgnore]
    public abstract EncoderKind Kind { get; }

    /// <summary>The version of this type's settings a model file records (raise it when a setting's meaning changes; reading a newer one is an error).</summary>
    [JsonIgnore]
    public virtual int Version => 1;

    /// <summary>Checks every setting; throws <see cref="ArgumentException"/> naming <paramref name="modality"/> and the setting.</summary>
    /// <param name="modality">The modality's name, for the message.</param>
    public virtual void Validate(string modality) { }

    /// <summary>A deep copy: every public settable property, arrays copied rather than shared.</summary>
    public EncoderOptions Clone()
    {
        var copy = (EncoderOptions)MemberwiseClone();
        foreach (var p in GetType().GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
            if (p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0 && p.GetValue(this) is Array a) p.SetValue(copy, a.Clone());
        return copy;
    }

    /// <summary>Throws unless <paramref name="value"/> is in [1, <see cref="ModalityOptions.MaxWidth"/>].</summary>
    protected static void CheckWidth(string modality, int value, string setting)
    {
        if (value < 1 || value > ModalityOptions.MaxWidth)
            throw new ArgumentOutOfRangeException(setting, value, $"Modality '{modality}': {setting} must be in [1, {ModalityOptions.MaxWidth}].");
    }

    /// <summary>Throws unless <paramref name="widths"/> holds 1 to <paramref name="most"/> widths, each in [1, <see cref="ModalityOptions.MaxWidth"/>].</summary>
    protected static void CheckWidths(string modality, int[]? widths, string setting, int most, string what)
    {
        if (widths == null || widths.Length == 0 || widths.Length > most)
            throw new ArgumentException($"Modality '{modality}': {setting} needs 1 to {most} {what}.", setting);
        foreach (int w in widths) CheckWidth(modality, w, setting);
    }

    /// <summary>Throws unless <paramref name="value"/> is in [0, 1).</summary>
    protected static void CheckFraction(string modality, double value, string setting)
    {
        if (!(value >= 0 && value < 1)) throw new ArgumentOutOfRangeException(setting, value, $"Modality '{modality}': {setting} must be in [0, 1).");
    }
}

/// <summary>A multilayer perceptron's settings (<see cref="EncoderKind.Mlp"/>): tabular features, pretrained features.</summary>
public sealed class MlpEncoderOptions : EncoderOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Hidden widths; the last is the encoder's output width.</summary>
        public static int[] HiddenWidths => new[] { 128, 64 };
    }

    /// <inheritdoc />
    public override EncoderKind Kind => EncoderKind.Mlp;

    /// <summary>Hidden widths (1 to 16 layers); the last is the encoder's output width. Default [128, 64].</summary>
    public int[] HiddenWidths { get; set; } = Defaults.HiddenWidths;

    /// <summary>Dropout on the standardised inputs. Default 0.</summary>
    public double InputDropout { get; set; }

    /// <inheritdoc />
    public override void Validate(string modality)
    {
        CheckWidths(modality, HiddenWidths, nameof(HiddenWidths), 16, "hidden widths for an MLP encoder");
        CheckFraction(modality, InputDropout, nameof(InputDropout));
    }
}

/// <summary>A 2-D CNN's settings (<see cref="EncoderKind.Cnn"/>): images <c>[C, H, W]</c>, spectrograms <c>[bands, frames]</c>.</summary>
public sealed class CnnEncoderOptions : EncoderOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Channels of each conv block (two blocks, as the reference design).</summary>
        public static int[] ConvChannels => new[] { 16, 32 };
        /// <summary>The projection's width: the encoder's output width.</summary>
        public const int OutputWidth = 64;
    }

    /// <inheritdoc />
    public override EncoderKind Kind => EncoderKind.Cnn;

    /// <summary>
    /// Per-row shape: <c>[C, H, W]</c> or <c>[H, W]</c>. <c>null</c> (default) takes it from the column's vector
    /// dimensions (<c>ExtractPixels</c>, <c>MelSpectrogram</c>). Must multiply to the column's size.
    /// </summary>
    public int[]? Shape { get; set; }

    /// <summary>Channels of each conv block (1 to 8 blocks). Default [16, 32].</summary>
    public int[] ConvChannels { get; set; } = Defaults.ConvChannels;

    /// <summary>The projection's width: the encoder's output width. Default 64.</summary>
    public int OutputWidth { get; set; } = Defaults.OutputWidth;

    /// <summary>
    /// Insert BatchNorm after each convolution. Default true: the reference design (conv, ReLU, max-pool) without it
    /// trained to very different accuracies depending on the initialisation. Set false for the reference design exactly.
    /// </summary>
    public bool BatchNorm { get; set; } = true;

    /// <summary>
    /// For a spectrogram (<c>[1, bands, frames]</c>): normalise each band over the clip's frames inside the encoder (CMVN,
    /// as <c>MelSpectrogramOptions.Normalization</c> does in featurization), so that a trainer or a sweep can choose it.
    /// A silent clip gives zeros, never NaN. Default false.
    /// </summary>
    public bool PerClipNormalization { get; set; }

    /// <inheritdoc />
    public override void Validate(string modality)
    {
        CheckWidths(modality, ConvChannels, nameof(ConvChannels), 8, "blocks for a CNN encoder");
        CheckWidth(modality, OutputWidth, nameof(OutputWidth));
        if (Shape != null && (Shape.Length is < 2 or > 3 || Shape.Any(d => d < 1 || d > 1 << 16)))
            throw new ArgumentOutOfRangeException(nameof(Shape), $"Modality '{modality}': Shape must be [channels, height, width] or [height, width] of positive sizes.");
    }
}

/// <summary>The text encoder's settings (<see cref="EncoderKind.EmbeddingBag"/>): an embedding per hash bucket, averaged over the row's tokens, then an MLP.</summary>
public sealed class EmbeddingBagEncoderOptions : EncoderOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Hash buckets: rows of the embedding table (as <c>HashTextTokens</c>).</summary>
        public const int Buckets = 1 << 16;
        /// <summary>Values of each token's embedding.</summary>
        public const int EmbeddingWidth = 64;
        /// <summary>Hidden widths of the MLP over the mean embedding; the last is the encoder's output width.</summary>
        public static int[] HiddenWidths => new[] { 64 };
    }

    /// <inheritdoc />
    public override EncoderKind Kind => EncoderKind.EmbeddingBag;

    /// <summary>
    /// Hash buckets: rows of the embedding table, in [1, 2^24]. Default 65,536, as <c>HashTextTokens</c>; ids above it are
    /// folded in (id mod buckets), so a smaller table still works.
    /// </summary>
    public int Buckets { get; set; } = Defaults.Buckets;

    /// <summary>Values of each token's embedding. Default 64.</summary>
    public int EmbeddingWidth { get; set; } = Defaults.EmbeddingWidth;

    /// <summary>Hidden widths of the MLP over the mean embedding (1 to 16 layers); the last is the encoder's output width. Default [64].</summary>
    public int[] HiddenWidths { get; set; } = Defaults.HiddenWidths;

    /// <inheritdoc />
    public override void Validate(string modality)
    {
        if (Buckets < 1 || Buckets > 1 << 24) throw new ArgumentOutOfRangeException(nameof(Buckets), Buckets, $"Modality '{modality}': Buckets must be in [1, 2^24].");
        CheckWidth(modality, EmbeddingWidth, nameof(EmbeddingWidth));
        CheckWidths(modality, HiddenWidths, nameof(HiddenWidths), 16, "hidden widths for a text encoder");
    }
}

/// <summary>The options of an encoder this process has not registered (read from a file or set by name): <see cref="ModalityOptions.Validate"/> says how to register it.</summary>
internal sealed class UnregisteredEncoderOptions(EncoderKind kind, JsonElement? settings = null) : EncoderOptions
{
    public override EncoderKind Kind => kind;

    /// <summary>The settings as they were read, written back unchanged.</summary>
    public JsonElement? Settings => settings;
}

/// <summary>
/// Writes encoder options as <c>{"kind": name, "version": n, …settings}</c> and reads them back through the registry
/// (<see cref="IEncoderKind.CreateOptions"/> gives the type), so a plug-in encoder's settings are saved and read as the
/// built-in ones are.
/// </summary>
internal sealed class EncoderOptionsJsonConverter : JsonConverter<EncoderOptions>
{
    private const string KindProperty = "kind", VersionProperty = "version";

    public override EncoderOptions Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(KindProperty, out var kindElement) || kindElement.ValueKind != JsonValueKind.String)
            throw new JsonException("Encoder options must be an object with the encoder's 'kind'.");
        var kind = new EncoderKind(kindElement.GetString()!);
        if (!ModalityRegistry.IsRegistered(kind)) return new UnregisteredEncoderOptions(kind, root.Clone());
        var type = ModalityRegistry.Get(kind).CreateOptions().GetType();
        var result = (EncoderOptions?)root.Deserialize(type, options) ?? throw new JsonException($"The '{kind}' encoder's options are empty.");
        if (root.TryGetProperty(VersionProperty, out var v) && v.TryGetInt32(out int version) && version > result.Version)
            throw new JsonException($"The '{kind}' encoder's options are version {version}, newer than the version {result.Version} this MLNetFusion reads: the model was written by a newer MLNetFusion.");
        return result;
    }

    public override void Write(Utf8JsonWriter writer, EncoderOptions value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString(KindProperty, value.Kind.Name);
        writer.WriteNumber(VersionProperty, value.Version);
        var settings = value is UnregisteredEncoderOptions u ? u.Settings : JsonSerializer.SerializeToElement(value, value.GetType(), options);
        if (settings is { ValueKind: JsonValueKind.Object } s)
            foreach (var p in s.EnumerateObject())
                if (!p.Name.Equals(KindProperty, StringComparison.OrdinalIgnoreCase) && !p.Name.Equals(VersionProperty, StringComparison.OrdinalIgnoreCase)) p.WriteTo(writer);
        writer.WriteEndObject();
    }
}
