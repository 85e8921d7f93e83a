using System.Text;
using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Datasets;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Network;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// Column inference gives image columns ResNet18's ImageNet features when MLNetFusion.Pretrained is shipped (issue 42):
/// the roles table says so, the leaderboard adds the linear probe a user writes next, a fusion family on them learns,
/// and an ONNX export keeps the encoder outside the graph with the graph on its features equal.
/// </summary>
public class PretrainedImageFusionTests
{
    // Colour photos of a disc or a square (the label) in a random colour, size and place on a noisy background of
    // another colour, 48×48, and a tabular column that is noise, so the image decides.
    private static (string train, string test) WriteShapes(int trainRows, int testRows)
    {
        var folder = TestData.TempFolder("pretrained-image");
        var rand = new Random(4);
        string Write(string name, int rows)
        {
            var csv = new StringBuilder("Shape,Noise,Photo\n");
            for (int i = 0; i < rows; i++)
            {
                bool disc = rand.Next(2) == 0;
                int cx = 14 + rand.Next(20), cy = 14 + rand.Next(20), r = 7 + rand.Next(6);
                var fg = ((byte)rand.Next(256), (byte)rand.Next(256), (byte)rand.Next(256));
                var bg = ((byte)rand.Next(256), (byte)rand.Next(256), (byte)rand.Next(256));
                var noise = new Random(rand.Next());
                string photo = ImageEmbeddingTests.WritePng(folder, $"{name}-{i}.png", 48, 48, (x, y) =>
                {
                    bool inside = disc ? (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r : Math.Abs(x - cx) <= r && Math.Abs(y - cy) <= r;
                    var c = inside ? fg : bg;
                    int n = noise.Next(-20, 21);
                    return ((byte)Math.Clamp(c.Item1 + n, 0, 255), (byte)Math.Clamp(c.Item2 + n, 0, 255), (byte)Math.Clamp(c.Item3 + n, 0, 255));
                });
                csv.Append(disc ? "disc" : "square").Append(',').Append((rand.NextDouble() * 10).ToString("F3", System.Globalization.CultureInfo.InvariantCulture))
                    .Append(',').Append(photo).Append('\n');
            }
            var path = Path.Combine(folder, name + ".csv");
            File.WriteAllText(path, csv.ToString());
            return path;
        }
        return (Write("train", trainRows), Write("test", testRows));
    }

    [Fact]
    public void ImageColumnsGetResNet18FeaturesAndAFusionFamilyLearnsFromThem()
    {
        var (train, test) = WriteShapes(160, 80);
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.FromCsv(train, test, "Shape");
        var photo = ds.Columns["Photo"];
        Assert.Equal((ColumnRole.Modality, ModalityKind.Image), (photo.Role, photo.Kind));
        Assert.Contains("encoder: ResNet18 (ImageNet) features (frozen, then an MLP)", photo.Reason);
        var (trainRows, testRows, featurizer) = ds.Featurize(ml);
        var featurization = ds.Featurization;
        // The network runs once per row, while the featurized rows are cached, never again to fit a later step.
        trainRows.Preview(1); testRows.Preview(1);
        static IEnumerable<ITransformer> Steps(ITransformer t) => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Steps) : new[] { t };
        var embedder = Steps(featurizer).OfType<MLNetFusion.Pretrained.Image.ImageEmbeddingTransformer>().Single();
        Assert.Equal(160 + 80, embedder.RowsComputed);
        var image = ds.Modalities().Single(m => m.Kind == ModalityKind.Image);
        Assert.Equal(EncoderKind.Mlp, image.Encoder);
        Assert.Equal("ResNet18 (ImageNet) features", featurization.PretrainedNames);
        // The plain baseline keeps the pixels; the linear probe on the features is the next baseline a user writes.
        var names = FusionCandidates.Default(featurization).Select(c => c.Name).ToList();
        Assert.Contains("Photo only: ResNet18 (ImageNet) features + L-BFGS maximum entropy", names);
        // The first baseline names the features of the kinds present, in the modalities' order: the image and a number, no text, no audio.
        Assert.Equal("Concatenate (pixels, one-hot, normalised numbers) + L-BFGS maximum entropy", names[0]);

        using var model = ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions { Modalities = ds.Modalities(), Epochs = 20, Seed = 1 }).Fit(trainRows);
        double accuracy = ml.MulticlassClassification.Evaluate(model.Transform(testRows)).MicroAccuracy;
        Assert.True(accuracy > 0.8, $"network fusion on ResNet18 features: {accuracy:P1} telling discs from squares (chance 50%)");

        var plain = MultimodalDataset.FromCsv(train, test, "Shape", pretrained: false);
        Assert.Equal(EncoderKind.Cnn, plain.Modalities().Single(m => m.Kind == ModalityKind.Image).Encoder);
        Assert.EndsWith("encoder: a CNN trained from scratch", plain.Columns["Photo"].Reason);

        // Small greyscale images (the generated dataset's 32×32 discs and squares, like digits or glyphs) keep the CNN.
        var grey = MultimodalDataset.FromCsv(Path.Combine(TestData.SyntheticFolder, "train.csv"), Path.Combine(TestData.SyntheticFolder, "test.csv"), "Label");
        Assert.Equal(EncoderKind.Cnn, grey.Modalities().Single(m => m.Kind == ModalityKind.Image).Encoder);
        Assert.EndsWith("encoder: a CNN trained from scratch (small greyscale images, 32×32: ResNet18 (ImageNet) features describe colour photos)", grey.Columns["ImagePath"].Reason);
    }
}

/// <summary>A chain with the image encoder exports with it outside the graph, and the graph on its features matches.</summary>
public class PretrainedImageOnnxTests
{
    private sealed class Row { public string Path { get; set; } = ""; public string Label { get; set; } = ""; }

    [Fact]
    public void TheImageEncoderStaysOutsideTheGraphAndTheGraphMatches()
    {
        var folder = TestData.TempFolder("onnx-images");
        var rows = Enumerable.Range(0, 40).Select(i => new Row
        {
            Label = (i % 2).ToString(System.Globalization.CultureInfo.InvariantCulture),
            // Warm or cold flat pictures with a darker stripe at a varying place.
            Path = ImageEmbeddingTests.WritePng(folder, $"{i}.png", 64, 48, (x, y) => Math.Abs(x - i) < 4 ? ((byte)20, (byte)20, (byte)20)
                : i % 2 == 0 ? ((byte)(200 + i), (byte)90, (byte)40) : ((byte)40, (byte)90, (byte)(200 + i))),
        }).ToList();
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.LoadFromEnumerable(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        var data = ml.Transforms.LoadImages("Image", folder, "Path").Fit(keyed).Transform(keyed);   // images as the chain's input
        var image = ModalityOptions.Image("Features", "photo");
        image.Encoder = EncoderKind.Mlp;
        image.EncoderOptionsAs<MlpEncoderOptions>().HiddenWidths = new[] { 32 };
        using var model = ml.Transforms.EmbedImages("Features", "Image")
            .Append(ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions { Modalities = new() { image }, Epochs = 5, Seed = 1 }))
            .Fit(data);
        var path = Path.Combine(folder, "m.onnx");
        var export = ml.Model.ExportFusionToOnnx(model, data.Schema, path);
        Assert.Contains("EmbedImages", export.OutsideGraphNames);
        Assert.Equal(new[] { "Features" }, export.Inputs.Select(i => i.Name));
        var expected = Columns.Vectors(model.Transform(data), "Score");
        var (actual, _) = OnnxExportTests.RunOnnx(path, export.OutsideGraph.Transform(data), export);
        Assert.True(expected.Zip(actual).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second))) <= 1e-4);

        var strict = Assert.Throws<NotSupportedException>(() => ml.Model.ExportFusionToOnnx(model, data.Schema, new MemoryStream(), new MLNetFusion.Onnx.FusionOnnxExportOptions { RequireWholeChain = true }));
        Assert.Contains("EmbedImages crops and resizes each image and runs its own ONNX model", strict.Message);
    }
}
