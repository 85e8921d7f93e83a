using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Featurizers;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// Golden model files of two formats: <c>models-v2</c> written with component versions recorded (FusionPrediction
/// version 2, before the modality heads; each network's trainer options), <c>models-v3</c> by the format that records
/// each network's architecture (FusionPrediction version 4). Every family, a model whose modality selection switched a
/// modality off, and a mixed chain of ML.NET transforms, an MLNetFusion featurizer and a fusion trainer. They must keep
/// loading and scoring as written; a change that breaks old files fails here. The generator writes the current format's
/// folder only on purpose (with a loader branch for the older files): MLNETFUSION_WRITE_MODEL_FIXTURES=1.
/// </summary>
public class GoldenModelFileTests
{
    private const string Current = "models-v3";
    private static string Folder(string version) => Path.Combine(AppContext.BaseDirectory, "Fixtures", version);
    private static readonly string SourceFolder = Path.Combine(TestData.RepoRoot, "tests", "MLNetFusion.Tests", "Fixtures", Current);
    private const int ProbeRows = 12, ProbeSeed = 99;

    private static readonly string[] Names = { "merge", "network-selected", "crossmodal", "early-mlp", "late-stacking", "late-productofexperts", "featurizer", "mixed-chain" };

    public static TheoryData<string, string> Models()
    {
        var data = new TheoryData<string, string>();
        foreach (var version in new[] { "models-v2", Current })
            foreach (var name in Names) data.Add(version, name);
        return data;
    }

    private static Dictionary<string, Func<MLContext, IDataView, ITransformer>> Builders()
    {
        List<ModalityOptions> Mods() => new() { ModalityOptions.Image("Image", "image", new[] { 1, 8, 8 }), ModalityOptions.Tabular("Tab", "tab", 16) };
        IEstimator<ITransformer> Key(MLContext ml) => ml.Transforms.Conversion.MapValueToKey("Label");
        LateFusionOptions Late(MLContext ml, LateFusionCombiner combiner) => new()
        {
            Members = new()
            {
                new LateFusionMember("image", "Image", ml.Transforms.NormalizeMinMax("__n.image", "Image").Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "__n.image"))),
                new LateFusionMember("tab", "Tab", ml.MulticlassClassification.Trainers.NetworkFusion(new() { Modalities = new() { ModalityOptions.Tabular("Tab", "tab", 16) }, Epochs = 2, Seed = 2 })),
            },
            Combiner = combiner, NumberOfFolds = 3, Seed = 1, MemberCalibration = MemberCalibration.Temperature,
        };
        return new()
        {
            ["merge"] = (ml, d) => Key(ml).Append(ml.MulticlassClassification.Trainers.MergeFusion(new() { Modalities = Mods(), Epochs = 2, Seed = 1, Width = 16 })).Fit(d),
            // Validation rows whose image is shuffled make selection switch the image off: the file records it.
            ["network-selected"] = (ml, d) =>
            {
                var rows = ModelFileCompatibilityTests.Row.Make(60, 5);
                var images = rows.Select(r => r.Image).ToList();
                for (int i = 0; i < rows.Count; i++) rows[i].Image = images[(i + 1) % rows.Count];
                var key = Key(ml).Fit(d);
                var model = ml.MulticlassClassification.Trainers.NetworkFusion(new() { Modalities = Mods(), Epochs = 4, Seed = 1 })
                    .Fit(key.Transform(d), key.Transform(ml.Data.LoadFromEnumerable(rows)));
                return key.Append(model);
            },
            ["crossmodal"] = (ml, d) => Key(ml).Append(ml.MulticlassClassification.Trainers.CrossModalFusion(new() { Modalities = Mods(), Epochs = 2, Seed = 1, Width = 16, Heads = 2 })).Fit(d),
            ["early-mlp"] = (ml, d) => Key(ml).Append(ml.Transforms.Concatenate("Features", "Image", "Tab")).Append(ml.MulticlassClassification.Trainers.FusionMlp(new() { FeatureColumnName = "Features", Epochs = 2, Seed = 1 })).Fit(d),
            ["late-stacking"] = (ml, d) => Key(ml).Append(ml.MulticlassClassification.Trainers.LateFusion(Late(ml, LateFusionCombiner.Stacking))).Fit(d),
            ["late-productofexperts"] = (ml, d) => Key(ml).Append(ml.MulticlassClassification.Trainers.LateFusion(Late(ml, LateFusionCombiner.ProductOfExperts))).Fit(d),
            ["featurizer"] = (ml, d) => Key(ml).Append(ml.Transforms.FeaturizeTabular("Embedding", "Tab", epochs: 2)).Fit(d),
            ["mixed-chain"] = (ml, d) => Key(ml)
                .Append(ml.Transforms.NormalizeMinMax("TabScaled", "Tab"))
                .Append(ml.Transforms.FeaturizeTabular("TabEmbedding", "TabScaled", epochs: 2))
                .Append(ml.MulticlassClassification.Trainers.MergeFusion(new() { Modalities = new() { ModalityOptions.Image("Image", "image", new[] { 1, 8, 8 }), ModalityOptions.Tabular("TabEmbedding", "tab", 16) }, Epochs = 2, Seed = 1, Width = 16 }))
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel"))
                .Fit(d),
        };
    }

    private static string OutputColumn(string name) => name == "featurizer" ? "Embedding" : "Score";

    // The generator runs only on request, once per test run, before the files are read.
    private static readonly Lazy<bool> WrittenOnRequest = new(() =>
    {
        if (Environment.GetEnvironmentVariable("MLNETFUSION_WRITE_MODEL_FIXTURES") != "1") return false;
        Write();
        foreach (var f in Directory.GetFiles(SourceFolder)) File.Copy(f, Path.Combine(Folder(Current), Path.GetFileName(f)), overwrite: true);
        return true;
    });

    private static void Write()
    {
        Directory.CreateDirectory(SourceFolder);
        Directory.CreateDirectory(Folder(Current));
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(ModelFileCompatibilityTests.Row.Make(160, 7));
        var probe = ml.Data.LoadFromEnumerable(ModelFileCompatibilityTests.Row.Make(ProbeRows, ProbeSeed));
        var expected = new SortedDictionary<string, float[][]>(StringComparer.Ordinal);
        foreach (var (name, build) in Builders())
        {
            var model = build(ml, data);
            expected[name] = model.Transform(probe).GetColumn<VBuffer<float>>(OutputColumn(name)).Select(v => v.DenseValues().ToArray()).ToArray();
            ml.Model.SaveFusionModel(model, probe.Schema, Path.Combine(SourceFolder, name + ".mlnetfusion.zip"));
            (model as IDisposable)?.Dispose();
        }
        File.WriteAllText(Path.Combine(SourceFolder, "expected_scores.json"), JsonSerializer.Serialize(new { seed = ProbeSeed, rows = ProbeRows, scores = expected }));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void AGoldenFileLoadsAndScoresAsWritten(string version, string name)
    {
        _ = WrittenOnRequest.Value;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(version), "expected_scores.json")));
        var expected = doc.RootElement.GetProperty("scores").GetProperty(name).EnumerateArray()
            .Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var ml = new MLContext(seed: 1);
        var probe = ml.Data.LoadFromEnumerable(ModelFileCompatibilityTests.Row.Make(ProbeRows, ProbeSeed));
        var model = ml.Model.LoadFusionModel(Path.Combine(Folder(version), name + ".mlnetfusion.zip"), out var schema);
        Assert.NotNull(schema);
        try
        {
            var actual = model.Transform(probe).GetColumn<VBuffer<float>>(OutputColumn(name)).Select(v => v.DenseValues().ToArray()).ToArray();
            Assert.Equal(expected.Length, actual.Length);
            // Bit for bit only on the CPU that wrote the files: libtorch picks its kernels by CPU (an AMD EPYC without AVX-512
            // scores three of them 6e-8 apart, at a commit whose files it had scored exactly elsewhere), so: within 1e-6.
            for (int r = 0; r < expected.Length; r++)
            {
                Assert.Equal(expected[r].Length, actual[r].Length);
                for (int k = 0; k < expected[r].Length; k++)
                    Assert.True(Math.Abs(expected[r][k] - actual[r][k]) <= 1e-6f, $"row {r}, slot {k}: {actual[r][k]:R} against {expected[r][k]:R} as written");
            }
            // A featurizer's file holds its network; it loads back as the featurizer (also files written before the type existed).
            if (name == "featurizer")
                Assert.Equal(("Embedding", "Tab"), (((IEnumerable<ITransformer>)model).OfType<ModalityFeaturizerTransformer>().Single().OutputColumnName,
                    ((IEnumerable<ITransformer>)model).OfType<ModalityFeaturizerTransformer>().Single().Encoder.InputColumn));
            if (name == "network-selected")
                Assert.Equal(new[] { "image" }, ((IEnumerable<ITransformer>)model).OfType<FusionPredictionTransformer>().Single().UnusedModalities);
        }
        finally
        {
            if (model is IEnumerable<ITransformer> chain) foreach (var t in chain) (t as IDisposable)?.Dispose();
            (model as IDisposable)?.Dispose();
        }
    }
}
