using System.Text.Json;
using Microsoft.ML;
using MLNetFusion.Trainers;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// The names under which every family's network stores its tensors are pinned: renaming a module field changes them,
/// and files written before the rename would no longer load. This test fails first, with the names that changed.
/// To change them on purpose, raise the FusionPrediction component's version with a loader branch that maps the old
/// names, and regenerate the list with MLNETFUSION_WRITE_TENSOR_NAMES=1.
/// </summary>
public class TensorNameTests
{
    private static readonly string PinnedFile = Path.Combine(TestData.RepoRoot, "tests", "MLNetFusion.Tests", "Fixtures", "models", "tensor_names.json");

    private static readonly string[] Families = { "mlp", "merge-mean", "merge-lmf", "merge-gated", "network", "network-stages", "crossmodal" };

    [Fact]
    public void EveryFamilysTensorNamesArePinned()
    {
        var ml = new MLContext(seed: 1);
        var data = ToyRow.Load(ml, ToyRow.Make(20, 1));
        var actual = new SortedDictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var family in Families)
        {
            var estimator = FusionTrainerTests.Make(ml, family, epochs: 1);
            var input = family == "mlp" ? ml.Transforms.Concatenate("Features", "Image", "Tab").Fit(data).Transform(data) : data;
            using var model = estimator.Fit(input);
            actual[family] = model.Network.state_dict().Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
        }
        // The text encoder, which the toy rows (no text column) do not reach through a trainer.
        using (var text = new MLNetFusion.Models.TextEncoder("text", "Tokens", tokens: 8, buckets: 32, width: 4, hidden: new[] { 4 }, dropout: 0))
            actual["text-encoder"] = text.state_dict().Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
        if (Environment.GetEnvironmentVariable("MLNETFUSION_WRITE_TENSOR_NAMES") == "1")
            File.WriteAllText(PinnedFile, JsonSerializer.Serialize(actual, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        var pinned = JsonSerializer.Deserialize<SortedDictionary<string, string[]>>(File.ReadAllText(PinnedFile))!;
        foreach (var family in Families.Append("text-encoder"))
        {
            var missing = pinned[family].Except(actual[family]).ToList();
            var added = actual[family].Except(pinned[family]).ToList();
            Assert.True(missing.Count == 0 && added.Count == 0,
                $"{family}: tensors no longer written: {string.Join(", ", missing)}; new tensors: {string.Join(", ", added)}. Old model files would not load.");
        }
    }
}
