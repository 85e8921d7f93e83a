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
