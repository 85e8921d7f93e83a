using System.Text.Json;
using MLNetFusion.Models;
using MLNetFusion.Persistence;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Each encoder owns its settings (issue 44): validated by its kind, saved by its name and version, and older files' flat settings still read.</summary>
public class EncoderOptionsTests
{
    private static ModalityOptions Read(string json) => JsonSerializer.Deserialize<ModalityOptions>(json, PersistenceJson.Options)!;

    [Fact]
    public void AModalityOfAnOlderFileReadsItsFlatSettingsIntoItsEncodersOptions()
    {
        // What files wrote before encoders owned their options: every encoder's settings on every modality.
        const string flat = "\"hiddenWidths\": [32, 16], \"convChannels\": [4, 8], \"outputWidth\": 24, \"batchNorm\": false, \"perClipNormalization\": true, \"textBuckets\": 128, \"inputDropout\": 0.2, \"shape\": [1, 8, 8]";
        var cnn = Read("{\"name\": \"audio\", \"columnName\": \"LogMel\", \"encoder\": \"Cnn\", \"kind\": \"Audio\", \"dropout\": 0.3, " + flat + "}");
        var c = cnn.EncoderOptionsAs<CnnEncoderOptions>();
        Assert.Equal(new[] { 4, 8 }, c.ConvChannels);
        Assert.Equal(new[] { 1, 8, 8 }, c.Shape);
        Assert.Equal((24, false, true), (c.OutputWidth, c.BatchNorm, c.PerClipNormalization));
        Assert.Equal((ModalityKind.Audio, 0.3), (cnn.Kind, cnn.Dropout));

        var mlp = Read("{\"name\": \"tab\", \"columnName\": \"Tab\", \"encoder\": \"Mlp\", " + flat + "}").EncoderOptionsAs<MlpEncoderOptions>();
        Assert.Equal(new[] { 32, 16 }, mlp.HiddenWidths);
        Assert.Equal(0.2, mlp.InputDropout);

        var text = Read("{\"name\": \"notes\", \"columnName\": \"Tokens\", \"encoder\": \"EmbeddingBag\", " + flat + "}").EncoderOptionsAs<EmbeddingBagEncoderOptions>();
        Assert.Equal((128, 24), (text.Buckets, text.EmbeddingWidth));   // textBuckets and outputWidth, renamed
        Assert.Equal(new[] { 32, 16 }, text.HiddenWidths);

        // The enum's number, as the oldest files wrote it, names the encoder too.
        Assert.Equal(EncoderKind.Cnn, Read("{\"name\": \"image\", \"columnName\": \"Image\", \"encoder\": 1}").Encoder);
    }

    [Fact]
    public void AModalityIsWrittenWithItsEncodersNameVersionAndSettingsAndReadBackAsTheSame()
    {
        var image = ModalityOptions.Image("Pixels", "photo", new[] { 3, 16, 16 });
        image.EncoderOptionsAs<CnnEncoderOptions>().ConvChannels = new[] { 8, 16, 32 };
        string json = JsonSerializer.Serialize(image, PersistenceJson.Options);
        using (var doc = JsonDocument.Parse(json))
        {
            var encoder = doc.RootElement.GetProperty("encoderOptions");
            Assert.Equal(("Cnn", 1), (encoder.GetProperty("kind").GetString(), encoder.GetProperty("version").GetInt32()));
            Assert.False(doc.RootElement.TryGetProperty("convChannels", out _));   // no flat copy beside it
            Assert.False(encoder.TryGetProperty("Kind", out _));
        }
        var back = JsonSerializer.Deserialize<ModalityOptions>(json, PersistenceJson.Options)!;
        Assert.Equal(json, JsonSerializer.Serialize(back, PersistenceJson.Options));

        // An encoder the file names twice, differently, is an exact error; a newer version than this build reads too.
        string both = json.Replace("\"encoderOptions\":", "\"encoder\": \"Mlp\", \"encoderOptions\":", StringComparison.Ordinal);
        Assert.StartsWith("Modality 'photo': its 'encoder' (Mlp) and its 'encoderOptions' kind (Cnn) differ.", Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<ModalityOptions>(both, PersistenceJson.Options)).Message);
        string newer = json.Replace("\"version\": 1", "\"version\": 2", StringComparison.Ordinal);
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<ModalityOptions>(newer, PersistenceJson.Options));
        Assert.Equal("The 'Cnn' encoder's options are version 2, newer than the version 1 this MLNetFusion reads: the model was written by a newer MLNetFusion.", error.Message);
    }

    [Fact]
    public void TheEncodersSettingsAreValidatedByItsKindAndMustBeItsType()
    {
        var text = ModalityOptions.Text("Tokens", "notes");
        text.EncoderOptionsAs<EmbeddingBagEncoderOptions>().Buckets = 0;
        Assert.Equal("Modality 'notes': Buckets must be in [1, 2^24]. (Parameter 'Buckets')" + Environment.NewLine + "Actual value was 0.", Assert.Throws<ArgumentOutOfRangeException>(text.Validate).Message);

        var image = ModalityOptions.Image("Pixels", "photo");
        image.EncoderOptionsAs<CnnEncoderOptions>().ConvChannels = Array.Empty<int>();
        Assert.Equal("Modality 'photo': ConvChannels needs 1 to 8 blocks for a CNN encoder. (Parameter 'ConvChannels')", Assert.Throws<ArgumentException>(image.Validate).Message);

        // Reading the settings as another encoder's is an error naming both; choosing another encoder gives its defaults.
        var error = Assert.Throws<InvalidOperationException>(() => image.EncoderOptionsAs<MlpEncoderOptions>());
        Assert.StartsWith("Modality 'photo' uses the Cnn encoder, whose settings are CnnEncoderOptions, not MlpEncoderOptions.", error.Message);
        image.Encoder = EncoderKind.Mlp;
        Assert.Equal(MlpEncoderOptions.Defaults.HiddenWidths, image.EncoderOptionsAs<MlpEncoderOptions>().HiddenWidths);
        image.Validate();
    }
}
