using MLNetFusion.Trainers;
using System.Text.Json.Nodes;
using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Cli.Evaluation;
using MLNetFusion.Cli.Leaderboard;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.AutoML.Sweep;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>The command line's machine-readable outputs: leaderboard, sweep and evaluate JSON, and the evaluate chart.</summary>
public class CliOutputTests
{
    [Fact]
    public void LeaderboardJsonHasTheDocumentedFields()
    {
        var path = Path.Combine(TestData.TempFolder("leaderboard-json"), "board.json");
        var late = new MLNetFusion.AutoML.Leaderboard.LeaderboardEntry(MLNetFusion.AutoML.Leaderboard.CandidateKind.Fusion, "late", "product of experts", 0.9, 0.3,
            0.99, 0.98, 0.05, TimeSpan.FromSeconds(12.3456), 0.85, 0.61, new Dictionary<string, double> { ["a"] = 0.61, ["b"] = 1.09 - 0.61 });
        var merge = new MLNetFusion.AutoML.Leaderboard.LeaderboardEntry(MLNetFusion.AutoML.Leaderboard.CandidateKind.Fusion, "merge", "attention", 0.8, 0.4,
            0.97, 0.96, double.NaN, TimeSpan.FromSeconds(2));
        LeaderboardJson.Write(path, new[] { late, merge }, recommended: late);
        var rows = JsonNode.Parse(File.ReadAllText(path))!.AsArray();
        Assert.Equal(2, rows.Count);
        Assert.True((bool)rows[0]!["recommended"]!);
        Assert.False((bool)rows[1]!["recommended"]!);
        Assert.Equal(0.9, (double)rows[0]!["validation_accuracy"]!);
        foreach (var field in new[] { "kind", "family", "configuration", "validation_accuracy", "accuracy", "macro_f1", "log_loss", "group_out_accuracy", "worst_group_accuracy",
            "selection_accuracy", "selection_standard_error", "within_one_standard_error", "judged_rows", "train_seconds", "error" })
            Assert.All(rows, r => Assert.True(r!.AsObject().ContainsKey(field), $"missing field {field}"));
        Assert.Equal("late", (string)rows[0]!["family"]!);
        Assert.Equal(0.85, (double)rows[0]!["group_out_accuracy"]!);
        Assert.Equal(0.61, (double)rows[0]!["worst_group_accuracy"]!);
        Assert.Equal(12.35, (double)rows[0]!["train_seconds"]!);
        Assert.Null(rows[1]!["group_out_accuracy"]);   // no --group
        Assert.Null(rows[1]!["log_loss"]);             // NaN is not JSON: null
        // What ranks: the group-out mean for late (± its groups' spread), the validation accuracy for merge (no judged rows given: no standard error).
        Assert.Equal(0.85, (double)rows[0]!["selection_accuracy"]!);
        Assert.Equal(Math.Abs(0.61 - 0.48) / Math.Sqrt(2) / Math.Sqrt(2), (double)rows[0]!["selection_standard_error"]!, 6);
        Assert.Equal(0.8, (double)rows[1]!["selection_accuracy"]!);
        Assert.Null(rows[1]!["selection_standard_error"]);
        Assert.True((bool)rows[1]!["within_one_standard_error"]!);   // 0.80 ≥ 0.85 − 0.065
    }

    [Fact]
    public async Task SweepJsonHasTheDocumentedFields()
    {
        var ml = new MLContext(seed: 1);
        var train = ToyRow.Load(ml, ToyRow.Make(200, 1));
        var test = ToyRow.Load(ml, ToyRow.Make(80, 2));
        var experiment = ml.Fusion().CreateExperiment().SetDataset(train, test)
            .SetModalities(ModalityOptions.Image("Image", "image"), ModalityOptions.Tabular("Tab", "tab"))
            .SetSearchSpace(new FusionSearchSpace { Families = new() { FusionFamily.Late }, LateMembers = new Choice<LateFusionMemberKind>(LateFusionMemberKind.Linear) })
            .SetRandomSearchTuner().SetMaxTrials(3).SetSeed(1);
        var result = await experiment.RunAsync();
        var m = ml.MulticlassClassification.Evaluate(result.Model.Transform(test));
        var path = Path.Combine(TestData.TempFolder("sweep-json"), "sweep.json");
        SweepJob.WriteJson(path, new SweepOutcome(result, m.MicroAccuracy, FusionMetrics.MacroF1(m), experiment));
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal(3, json["trials"]!.AsArray().Count);
        var chosen = json["chosen"]!.AsObject();
        foreach (var field in new[] { "family", "parameters", "validation_metric", "test_accuracy", "test_macro_f1", "modalities" })
            Assert.True(chosen.ContainsKey(field), $"missing field {field}");
        Assert.Equal("late", (string)chosen["family"]!);   // one spelling of a family everywhere (FusionFamilies.Name)
        Assert.Equal(m.MicroAccuracy, (double)chosen["test_accuracy"]!);
        Assert.Equal(result.BestTrial.ValidationMetric, (double)chosen["validation_metric"]!);
        Assert.Equal((string)chosen["parameters"]!["modalities"]!, string.Join("+", chosen["modalities"]!.AsArray().Select(n => (string)n!)));
        (result.Model as IDisposable)?.Dispose();
    }

    [Fact]
    public void EvaluateReportsASavedFilePathModelLikeTheModelInMemory()
    {
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.Synthetic(TestData.SyntheticFolder);
        var train = ml.Data.TakeRows(ds.Load(ml, ds.TrainFile), 400);
        var model = ds.Featurizer(ml)
            .Append(ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions { Modalities = ds.Modalities(), Epochs = 2 }))
            .Fit(train);
        var folder = TestData.TempFolder("evaluate");
        string modelPath = Path.Combine(folder, "model.zip"), json = Path.Combine(folder, "report.json"), chart = Path.Combine(folder, "report.png");
        ml.Model.SaveFusionModel(model, train.Schema, modelPath);
        // The test CSV has the Site column, which the model never saw: the report groups by it.
        var testCsv = Path.Combine(ds.Folder, ds.TestFile);
        var report = EvaluateJob.Run(modelPath, testCsv, "Site", json, chart, permutations: 2);

        var inMemory = ml.MulticlassClassification.EvaluateModalities(model, MultimodalDataset.Synthetic(TestData.SyntheticFolder, group: "Site").Load(ml, ds.TestFile), groupColumnName: "Site", permutationCount: 2);
        Assert.Equal(inMemory.Overall, report.Overall);
        Assert.Equal(inMemory.Subsets.Select(s => s.Metrics), report.Subsets.Select(s => s.Metrics));
        // The report names modalities by the user's columns, not by internal ones (Pixels, LogMel, Tabular, Notes.Tokens).
        Assert.Equal(new[] { "ImagePath", "AudioPath", "Age, Income, Score1, Score2, Region", "Notes" }, report.Modalities);
        Assert.Equal(15, report.Subsets.Count);   // every non-empty subset of four modalities
        Assert.Equal(SyntheticSites(), report.Groups!.Groups.Select(g => g.Group).OrderBy(g => g));

        var parsed = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        foreach (var field in new[] { "modalities", "overall", "subsets", "importance", "calibration", "groups" }) Assert.True(parsed.ContainsKey(field), field);
        Assert.Equal(report.Overall.Accuracy, (double)parsed["overall"]!["accuracy"]!);
        Assert.Equal(15, parsed["calibration"]!["bins"]!.AsArray().Count);
        Assert.True(parsed["importance"]![0]!.AsObject().ContainsKey("accuracy_drop_when_permuted"));
        Assert.True(new FileInfo(chart).Length > 10_000);
        foreach (var t in model) (t as IDisposable)?.Dispose();
    }

    private static IEnumerable<string> SyntheticSites() => Enumerable.Range(0, MLNetFusion.Datasets.SyntheticMultimodalDataset.Sites).Select(i => "site" + i);

    [Fact]
    public void SampleEpochsAreCheckedAndApplyOnlyToSamplesThatTrain()
    {
        var e = Assert.Throws<ArgumentException>(() => MLNetFusion.Samples.SampleRunner.Run("audio", 3));
        Assert.Equal("Sample 'audio' trains no network, so --epochs does not apply." + Environment.NewLine +
            "Hint: --epochs applies to early-fusion-avdigits, neural-fusion, late-fusion, save-and-serve, onnx-export, sweep, modality-report.", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => MLNetFusion.Samples.SampleRunner.Run("neural-fusion", 0));
    }

    [Fact]
    public void TheMainJobTrainsEveryCandidateOnTheGeneratedDataToTheEnd()
    {
        // The README's main command, at one epoch: every family and every single modality (text through its n-grams,
        // since an empty note leaves a text-only model nothing to predict from) finishes, and the chart and JSON are written.
        var folder = TestData.TempFolder("main-job");
        var ds = MultimodalDataset.Synthetic(TestData.SyntheticFolder);
        var entries = MainJob.Run(ds, Path.Combine(folder, "leaderboard.png"), epochs: 1, seed: 1, "main job at one epoch", includeSingles: true,
            jsonPath: Path.Combine(folder, "leaderboard.json"), folds: 1);   // the main job's hold-out (`run --folds` defaults to 1)
        // Every candidate (baselines, fusion families, single modalities) and the ensemble over them.
        Assert.Equal(MLNetFusion.AutoML.Leaderboard.FusionCandidates.Default(ds.Featurization).Count + 1, entries.Count);
        Assert.Contains(entries, e => e.Kind == MLNetFusion.AutoML.Leaderboard.CandidateKind.Baseline);
        Assert.Contains(entries, e => e.Kind == MLNetFusion.AutoML.Leaderboard.CandidateKind.Ensemble);
        Assert.Contains(entries, e => e.Name == "Notes only (its hashed words, MLP)");
        Assert.All(entries, e => Assert.Null(e.Error));
        Assert.All(entries, e => Assert.InRange(e.Accuracy, 0, 1));
        Assert.True(new FileInfo(Path.Combine(folder, "leaderboard.png")).Length > 10_000);
        Assert.Equal(entries.Count, JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "leaderboard.json")))!.AsArray().Count);
    }

    [Theory]
    [InlineData("neural-fusion")]
    [InlineData("modality-report")]
    [InlineData("late-fusion")]
    public void ASampleOnTheGeneratedDataRunsToTheEnd(string sample)
    {
        // At one epoch: the samples must keep working as the generated dataset and the API change. (save-and-serve starts
        // the mlnetfusion program as its second process, which a test host is not; SeparateProcessTests covers serving.)
        var output = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(output);
        try { Assert.Equal(0, MLNetFusion.Samples.SampleRunner.Run(sample, 1)); }
        finally { Console.SetOut(previous); }
        Assert.Contains("accuracy", output.ToString());
    }
}
