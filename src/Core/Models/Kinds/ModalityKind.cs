using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetFusion.Models;

/// <summary>
/// What a modality is (tabular, image, audio, text, or a kind a library registers): the name of its
/// <see cref="IModalityKind"/> in <see cref="ModalityRegistry"/>. Model files store the name, so the built-in kinds keep
/// the names of the enum they replace.
/// </summary>
[JsonConverter(typeof(ModalityKindJsonConverter))]
public readonly record struct ModalityKind
{
    /// <summary>A kind by name (registered with <see cref="ModalityRegistry.Register(IModalityKind)"/>).</summary>
    public ModalityKind(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _name = name;
    }

    private readonly string? _name;

    /// <summary>The kind's name; <c>Tabular</c> for a default value.</summary>
    public string Name => _name ?? "Tabular";

    /// <summary>Tabular features (numbers, one-hot categories, text features, pretrained embeddings).</summary>
    public static ModalityKind Tabular { get; } = new("Tabular");
    /// <summary>An image (<c>[C, H, W]</c> pixels).</summary>
    public static ModalityKind Image { get; } = new("Image");
    /// <summary>Audio as a <c>[bands, frames]</c> spectrogram.</summary>
    public static ModalityKind Audio { get; } = new("Audio");
    /// <summary>Text as hashed token ids (<c>HashTextTokens</c>), read by the embedding-bag text encoder.</summary>
    public static ModalityKind Text { get; } = new("Text");

    /// <inheritdoc />
    public bool Equals(ModalityKind other) => string.Equals(Name, other.Name, StringComparison.Ordinal);
    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Name);
    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// Which encoder architecture a modality uses: the name of its <see cref="IEncoderKind"/> in <see cref="ModalityRegistry"/>
/// (the built-in names are those of the enum it replaces, so model files keep loading).
/// </summary>
[JsonConverter(typeof(EncoderKindJsonConverter))]
public readonly record struct EncoderKind
{
    /// <summary>An encoder by name (registered with <see cref="ModalityRegistry.Register(IEncoderKind)"/>).</summary>
    public EncoderKind(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _name = name;
    }

    private readonly string? _name;

    /// <summary>The encoder's name; <c>Mlp</c> for a default value.</summary>
    public string Name => _name ?? "Mlp";

    /// <summary>A multilayer perceptron over a flat vector (tabular data, pretrained features, text features).</summary>
    public static EncoderKind Mlp { get; } = new("Mlp");
    /// <summary>A 2-D CNN over <c>C×H×W</c> (images) or <c>bands×frames</c> (spectrograms).</summary>
    public static EncoderKind Cnn { get; } = new("Cnn");
    /// <summary>
    /// A text encoder over hashed token ids (<c>mlContext.Transforms.HashTextTokens</c>): an embedding per hash bucket,
    /// averaged over the row's tokens (an embedding bag of words, word bigrams and character trigrams), then an MLP.
    /// </summary>
    public static EncoderKind EmbeddingBag { get; } = new("EmbeddingBag");

    /// <inheritdoc />
    public bool Equals(EncoderKind other) => string.Equals(Name, other.Name, StringComparison.Ordinal);
    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Name);
    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>Writes a <see cref="ModalityKind"/> as its name; reads the name (or the enum's number, in order, that files of the enum could hold).</summary>
internal sealed class ModalityKindJsonConverter : JsonConverter<ModalityKind>
{
    private static readonly string[] Legacy = { "Tabular", "Image", "Audio", "Text" };
    public override ModalityKind Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => new(KindNames.Read(ref reader, Legacy, "modality kind"));
    public override void Write(Utf8JsonWriter writer, ModalityKind value, JsonSerializerOptions options) => writer.WriteStringValue(value.Name);
}

/// <summary>Writes an <see cref="EncoderKind"/> as its name; reads the name (or the enum's number).</summary>
internal sealed class EncoderKindJsonConverter : JsonConverter<EncoderKind>
{
    private static readonly string[] Legacy = { "Mlp", "Cnn", "EmbeddingBag" };
    public override EncoderKind Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => new(KindNames.Read(ref reader, Legacy, "encoder kind"));
    public override void Write(Utf8JsonWriter writer, EncoderKind value, JsonSerializerOptions options) => writer.WriteStringValue(value.Name);
}

internal static class KindNames
{
    public static string Read(ref Utf8JsonReader reader, string[] legacy, string what)
    {
        if (reader.TokenType == JsonTokenType.String && reader.GetString() is { } name && !string.IsNullOrWhiteSpace(name)) return name;
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int i) && i >= 0 && i < legacy.Length) return legacy[i];
        throw new JsonException($"A {what} must be a name (such as '{legacy[0]}')." + Environment.NewLine +
            "Hint: the model file's configuration was edited or is damaged; save the model again from the pipeline that trained it.");
    }
}
