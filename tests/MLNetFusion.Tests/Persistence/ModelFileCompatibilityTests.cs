using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// Model files written before the restructuring (commit 5d4464f, by Fixtures/models/make_model_fixtures.cs.txt) still load
/// and give the scores they gave when they were written.
/// </summary>
public class ModelFileCompatibilityTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "models");

    public sealed class Row
    {
        public string Label { get; set; } = "";
        [VectorType(64)] public float[] Image { get; set; } = Array.Empty<float>();
        [VectorType(5)] public float[] Tab { get; set; } = Array.Empty<float>();

        /// <summary>The generator's rows (same code, same seed).</summary>
        public static List<Row> Make(int n, int seed)
        {
            var r = new Random(seed);
            return Enumerable.Range(0, n).Select(i =>
            {
                int c = i % 3;
                return new Row
                {
                    Label = "c" + c,
                    Image = Enumerable.Range(0, 64).Select(j => (float)((j % 3 == c ? 1.0 : 0.0) + 0.5 * r.NextDouble())).ToArray(),
                    Tab = Enumerable.Range(0, 5).Select(j => (float)((j == c ? 1.0 : 0.0) + 0.5 * r.NextDouble())).ToArray(),
                };
            }).ToList();
        }
    }

    public static TheoryData<string> Models() => new() { "merge", "network", "crossmodal", "early-mlp", "late-stacking", "late-weightedaverage", "late-productofexperts", "featurizer" };

    [Theory]
    [MemberData(nameof(Models))]
    public void AModelFileWrittenBeforeTheRestructuringLoadsAndScoresAsBefore(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "expected_scores.json")));
        var expected = doc.RootElement.GetProperty("scores").GetProperty(name).EnumerateArray()
            .Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var ml = new MLContext(seed: 1);
        var probe = ml.Data.LoadFromEnumerable(Row.Make(doc.RootElement.GetProperty("rows").GetInt32(), doc.RootElement.GetProperty("seed").GetInt32()));
        var model = ml.Model.LoadFusionModel(Path.Combine(Folder, name + ".mlnetfusion.zip"), out var schema);
        Assert.NotNull(schema);
        try
        {
            var actual = model.Transform(probe).GetColumn<VBuffer<float>>(name == "featurizer" ? "Embedding" : "Score").Select(v => v.DenseValues().ToArray()).ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (int r = 0; r < expected.Length; r++)
            {
                Assert.Equal(expected[r].Length, actual[r].Length);
                for (int k = 0; k < expected[r].Length; k++) Assert.Equal(expected[r][k], actual[r][k], 4);
            }
        }
        finally
        {
            if (model is IEnumerable<ITransformer> chain) foreach (var t in chain) (t as IDisposable)?.Dispose();
            (model as IDisposable)?.Dispose();
        }
    }
}

/// <summary>A crafted model file (valid hashes) whose configuration claims a network far larger than its weights.</summary>
public class CraftedModelFileTests
{
    [Fact]
    public void ASmallFileThatClaimsAHugeNetworkIsRejectedBeforeAllocating()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Fixtures", "models", "merge.mlnetfusion.zip");
        var path = Path.Combine(TestData.TempFolder("crafted-model"), "huge.zip");
        File.Copy(source, path, overwrite: true);
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update))
        {
            var manifestEntry = zip.GetEntry("manifest.json")!;
            System.Text.Json.Nodes.JsonNode manifest;
            using (var s = manifestEntry.Open()) manifest = System.Text.Json.Nodes.JsonNode.Parse(s)!;
            var component = manifest["components"]!.AsArray().First(c => (string?)c!["kind"] == "MLNetFusion.FusionPrediction")!;
            var info = component["entries"]!["config"]!;
            var configEntry = zip.GetEntry((string)info["path"]!)!;
            System.Text.Json.Nodes.JsonNode config;
            using (var s = configEntry.Open()) config = System.Text.Json.Nodes.JsonNode.Parse(s)!;
            // The tabular modality now claims 2^26 inputs into 4,096 units: 2.7e11 parameters, a terabyte of floats.
            var options = System.Text.Json.Nodes.JsonNode.Parse((string)config["options"]!)!;
            options["modalities"]![1]!["hiddenWidths"] = new System.Text.Json.Nodes.JsonArray(4096, 64);
            config["options"] = options.ToJsonString();
            config["sizes"]![1] = 1 << 26;
            var bytes = System.Text.Encoding.UTF8.GetBytes(config.ToJsonString());
            configEntry.Delete();
            using (var s = zip.CreateEntry((string)info["path"]!).Open()) s.Write(bytes);
            info["size"] = bytes.Length;
            info["sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
            manifestEntry.Delete();
            using (var s = zip.CreateEntry("manifest.json").Open()) s.Write(System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString()));
        }
        var ml = new MLContext(seed: 1);
        var ex = Assert.Throws<MLNetFusion.Persistence.FusionModelFormatException>(() => ml.Model.LoadFusionModel(path, out _));
        Assert.Contains("its configuration describes a network of at least 2.75E+11 parameters", ex.Message);
        Assert.Contains("but its weights hold", ex.Message);
    }
}
