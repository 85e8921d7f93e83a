using System.Text;
using Microsoft.ML;
using MLNetFusion.Datasets;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Network;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// Column inference gives text the pretrained sentence encoder when MLNetFusion.Pretrained is shipped (issue 42), and a
/// fusion family with it carries meaning to words it never saw in training, where hashed words cannot.
/// </summary>
public class PretrainedTextFusionTests
{
    // Reviews whose sentiment word decides the label; the test rows use synonyms that no training row contains (a shift
    // of vocabulary, as between the airlines of one tweet set and another's), and a tabular column that is noise.
    private static readonly string[][] TrainWords = { new[] { "great", "excellent", "wonderful", "lovely" }, new[] { "terrible", "awful", "horrible", "bad" } };
    private static readonly string[][] TestWords = { new[] { "fantastic", "superb", "delightful", "brilliant" }, new[] { "dreadful", "atrocious", "abysmal", "appalling" } };
    private static readonly string[] Subjects = { "the service", "the food", "our stay", "the flight", "the staff", "the room", "the trip", "the product" };

    private static string Write(string folder, string file, int rows, string[][] words, int seed)
    {
        var rand = new Random(seed);
        var csv = new StringBuilder("Label,Noise,Review\n");
        for (int i = 0; i < rows; i++)
        {
            int label = rand.Next(2);
            var review = $"{Subjects[rand.Next(Subjects.Length)]} was {words[label][rand.Next(words[label].Length)]}";
            if (rand.Next(4) == 0) review += " and we will tell our friends";
            csv.Append(label == 0 ? "pos" : "neg").Append(',').Append((rand.NextDouble() * 10).ToString("F3", System.Globalization.CultureInfo.InvariantCulture)).Append(',').Append(review).Append('\n');
        }
        var path = Path.Combine(folder, file);
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    [Fact]
    public void SentenceEmbeddingsCarryMeaningToWordsTrainingNeverSaw()
    {
        var folder = TestData.TempFolder("pretrained-text");
        string train = Write(folder, "train.csv", 240, TrainWords, 1), test = Write(folder, "test.csv", 160, TestWords, 2);
        double Accuracy(bool pretrained)
        {
            var ml = new MLContext(seed: 1);
            var ds = MultimodalDataset.FromCsv(train, test, "Label", pretrained: pretrained);
            var (trainRows, testRows, _) = ds.Featurize(ml);
            var text = ds.Modalities().Single(m => m.Kind == ModalityKind.Text);
            Assert.Equal(pretrained ? EncoderKind.Mlp : EncoderKind.EmbeddingBag, text.Encoder);
            using var model = ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions { Modalities = ds.Modalities(), Epochs = 20, Seed = 1 }).Fit(trainRows);
            return ml.MulticlassClassification.Evaluate(model.Transform(testRows)).MicroAccuracy;
        }
        double withEmbeddings = Accuracy(pretrained: true), hashed = Accuracy(pretrained: false);
        Assert.True(withEmbeddings > 0.8, $"network fusion with sentence embeddings: {withEmbeddings:P1} on reviews in unseen words (chance 50%)");
        Assert.True(withEmbeddings > hashed + 0.15, $"sentence embeddings {withEmbeddings:P1} against hashed words {hashed:P1} on unseen words");
    }
}

/// <summary>A chain with the sentence encoder exports with it outside the graph, and the graph on its embeddings matches.</summary>
public class PretrainedTextOnnxTests
{
    private sealed class Row { public string Review { get; set; } = ""; public string Label { get; set; } = ""; }

    [Fact]
    public void TheSentenceEncoderStaysOutsideTheGraphAndTheGraphMatches()
    {
        var ml = new MLContext(seed: 1);
        var words = new[] { new[] { "great", "excellent", "lovely" }, new[] { "terrible", "awful", "bad" } };
        var rand = new Random(3);
        var rows = Enumerable.Range(0, 120).Select(i => new Row { Label = (i % 2).ToString(System.Globalization.CultureInfo.InvariantCulture),
            Review = $"the trip was {words[i % 2][rand.Next(3)]}" }).ToList();
        var raw = ml.Data.LoadFromEnumerable(rows);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        var text = ModalityOptions.Text("Sentence", "review", 32);
        text.Encoder = EncoderKind.Mlp;
        using var model = ml.Transforms.EmbedSentences("Sentence", "Review")
            .Append(ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions { Modalities = new() { text }, Epochs = 5, Seed = 1 }))
            .Fit(data);
        var path = Path.Combine(TestData.TempFolder("onnx-sentences"), "m.onnx");
        var export = ml.Model.ExportFusionToOnnx(model, data.Schema, path);
        Assert.Contains("EmbedSentences", export.OutsideGraphNames);
        Assert.Equal(new[] { "Sentence" }, export.Inputs.Select(i => i.Name));
        var expected = Columns.Vectors(model.Transform(data), "Score");
        var (actual, _) = OnnxExportTests.RunOnnx(path, export.OutsideGraph.Transform(data), export);
        Assert.True(expected.Zip(actual).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second))) <= 1e-4);

        var strict = Assert.Throws<NotSupportedException>(() => ml.Model.ExportFusionToOnnx(model, data.Schema, new MemoryStream(), new MLNetFusion.Onnx.FusionOnnxExportOptions { RequireWholeChain = true }));
        Assert.Contains("EmbedSentences tokenises text (WordPiece) and runs its own ONNX model", strict.Message);
    }
}
