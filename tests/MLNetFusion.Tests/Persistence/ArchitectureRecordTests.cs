using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Persistence;
using MLNetFusion.Trainers;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// A model file records each fusion network's architecture (its encoders as built and its family's layers), not the
/// trainer's options (issue 44): training-only options are not in it, files of the earlier format still load and are
/// saved again in this one with the same scores, and a record newer than this build reads is an exact error.
/// </summary>
public class ArchitectureRecordTests
{
    private static readonly string V2Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "models-v2");

    /// <summary>The configuration of every fusion network in the file (the components whose config names a family).</summary>
    private static List<JsonElement> NetworkConfigs(byte[] file)
    {
        using var zip = new ZipArchive(new MemoryStream(file), ZipArchiveMode.Read);
        var configs = new List<JsonElement>();
        foreach (var entry in zip.Entries.Where(e => e.FullName.EndsWith("/config", StringComparison.Ordinal)))
        {
            using var s = entry.Open();
            var json = JsonDocument.Parse(s).RootElement.Clone();
            if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty("family", out _) && json.TryGetProperty("shapes", out _)) configs.Add(json);
        }
        return configs;
    }

    private static byte[] Save(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var ms = new MemoryStream();
        ml.Model.SaveFusionModel(model, schema, ms);
        return ms.ToArray();
    }

    private static float[][] Scores(ITransformer model, IDataView data) => Columns.Vectors(model.Transform(data), "Score").ToArray();

    [Fact]
    public void ASavedNetworkRecordsItsEncodersAndLayersButNoTrainingOption()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(ModelFileCompatibilityTests.Row.Make(80, 7));
        var options = new MLNetFusion.Trainers.Merge.MergeFusionOptions
        {
            Modalities = { ModalityOptions.Image("Image", "image", new[] { 1, 8, 8 }), ModalityOptions.Tabular("Tab", "tab", 16) },
            Epochs = 2, Seed = 1, Width = 16, LearningRate = 3e-3, AugmentationStrength = 0.5,
        };
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.MergeFusion(options)).Fit(data);
        var file = Save(ml, model, data.Schema);
        var config = Assert.Single(NetworkConfigs(file));
        Assert.Equal(JsonValueKind.Null, config.GetProperty("options").ValueKind);
        using var architecture = JsonDocument.Parse(config.GetProperty("architecture").GetString()!);
        var root = architecture.RootElement;
        Assert.Equal(1, root.GetProperty("version").GetInt32());
        Assert.Equal(16, root.GetProperty("layers").GetProperty("width").GetInt32());
        Assert.Equal("Attention", root.GetProperty("layers").GetProperty("operation").GetString());
        var image = root.GetProperty("modalities")[0];
        Assert.Equal("Cnn", image.GetProperty("encoderOptions").GetProperty("kind").GetString());
        Assert.NotEqual(JsonValueKind.Null, image.GetProperty("augmentation").ValueKind);   // the trainer-wide preset, as the encoder was built with it
        string text = root.GetRawText();
        foreach (var trainingOnly in new[] { "learningRate", "epochs", "seed", "augmentationStrength", "batchSize" })
            Assert.DoesNotContain($"\"{trainingOnly}\"", text, StringComparison.Ordinal);

        var probe = ml.Data.LoadFromEnumerable(ModelFileCompatibilityTests.Row.Make(12, 99));
        var loaded = ml.Model.LoadFusionModel(new MemoryStream(file), out _);
        Assert.Equal(Scores(model, probe), Scores(loaded, probe));
        (loaded as IDisposable)?.Dispose();
        (model as IDisposable)?.Dispose();

        // A record newer than this build reads is an exact error at load.
        var newer = EditRecord(file, record => record["version"] = 9);
        var error = Assert.Throws<FusionModelFormatException>(() => ml.Model.LoadFusionModel(new MemoryStream(newer), out _));
        Assert.Contains("its architecture record is version 9, but this MLNetFusion reads versions 1 to 1", error.Message);

        // A record whose modality has no encoder settings is refused at load, naming the component.
        var missing = EditRecord(file, record => record["modalities"]![0]!["encoderOptions"] = null);
        var refused = Assert.Throws<FusionModelFormatException>(() => ml.Model.LoadFusionModel(new MemoryStream(missing), out _));
        Assert.Contains("its network's architecture has a value its settings refuse (A modality needs its encoder's options.", refused.Message);
    }

    [Theory]
    [InlineData("merge")]
    [InlineData("network-selected")]
    [InlineData("crossmodal")]
    [InlineData("early-mlp")]
    [InlineData("late-stacking")]
    [InlineData("mixed-chain")]
    public void AFileOfTheEarlierFormatIsSavedAgainInThisOneWithTheSameScores(string name)
    {
        var ml = new MLContext(seed: 1);
        var probe = ml.Data.LoadFromEnumerable(ModelFileCompatibilityTests.Row.Make(12, 99));
        var old = File.ReadAllBytes(Path.Combine(V2Folder, name + ".mlnetfusion.zip"));
        Assert.All(NetworkConfigs(old), c => Assert.Equal(JsonValueKind.String, c.GetProperty("options").ValueKind));   // the trainer's options, as written then
        var model = ml.Model.LoadFusionModel(new MemoryStream(old), out var schema);
        var again = Save(ml, model, schema!);
        var configs = NetworkConfigs(again);
        Assert.NotEmpty(configs);
        Assert.All(configs, c => Assert.Equal(JsonValueKind.String, c.GetProperty("architecture").ValueKind));
        var reloaded = ml.Model.LoadFusionModel(new MemoryStream(again), out _);
        Assert.Equal(Scores(model, probe), Scores(reloaded, probe));
        foreach (var m in new[] { model, reloaded })
        {
            if (m is IEnumerable<ITransformer> chain) foreach (var t in chain) (t as IDisposable)?.Dispose();
            (m as IDisposable)?.Dispose();
        }
    }

    /// <summary>The file with every network's architecture record edited by <paramref name="edit"/>.</summary>
    private static byte[] EditRecord(byte[] file, Action<System.Text.Json.Nodes.JsonNode> edit) => Rewrite(file, text =>
    {
        var config = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        if (config["architecture"] is not { } recorded) return text;
        var record = System.Text.Json.Nodes.JsonNode.Parse((string)recorded!)!;
        edit(record);
        config["architecture"] = record.ToJsonString();
        return config.ToJsonString();
    });

    /// <summary>The file with every network configuration edited by <paramref name="edit"/> (sizes and hashes recomputed).</summary>
    private static byte[] Rewrite(byte[] file, Func<string, string> edit)
    {
        List<string> configs;
        using (var zip = new ZipArchive(new MemoryStream(file), ZipArchiveMode.Read))
            configs = zip.Entries.Select(e => e.FullName).Where(n => n.EndsWith("/config", StringComparison.Ordinal)).ToList();
        foreach (var path in configs)
        {
            string text = System.Text.Encoding.UTF8.GetString(PersistenceTests.ReadEntry(file, path)), edited = edit(text);
            if (edited != text) file = PersistenceTests.RewriteEntry(file, path, System.Text.Encoding.UTF8.GetBytes(edited));
        }
        return file;
    }
}
