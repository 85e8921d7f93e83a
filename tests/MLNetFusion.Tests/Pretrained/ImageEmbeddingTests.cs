using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Pretrained.Image;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>The pretrained image encoder (issue 42): ML.NET's own ResNet18 numbers, its crop and resize, batched, saved and served.</summary>
public class ImageEmbeddingTests
{
    private sealed class PathRow { public string Path { get; set; } = ""; }
    private sealed class Embedded { [VectorType(512)] public float[] Features { get; set; } = Array.Empty<float>(); }

    /// <summary>Writes a PNG of <paramref name="width"/>×<paramref name="height"/> whose pixel (x, y) is <paramref name="color"/>'s (r, g, b).</summary>
    internal static string WritePng(string folder, string name, int width, int height, Func<int, int, (byte r, byte g, byte b)> color)
    {
        var bytes = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (r, g, b) = color(x, y);
                int p = (y * width + x) * 4;
                bytes[p] = b; bytes[p + 1] = g; bytes[p + 2] = r; bytes[p + 3] = 255;
            }
        var path = System.IO.Path.Combine(folder, name);
        using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Bgra32, bytes);
        image.Save(path);
        return path;
    }

    // Blocks of 4×4 pixels in colours from a seeded generator: a picture with edges and colour for the network, and one
    // whose 2× enlargement by pixel repetition shrinks back to it exactly by area averaging.
    private static Func<int, int, (byte, byte, byte)> Blocks(int seed)
    {
        var rand = new Random(seed);
        var colours = Enumerable.Range(0, 56 * 56).Select(_ => ((byte)rand.Next(256), (byte)rand.Next(256), (byte)rand.Next(256))).ToArray();
        return (x, y) => colours[(y / 4) % 56 * 56 + (x / 4) % 56];
    }

    private static double MaxDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();

    [Fact]
    public void FeaturesEqualMLNetsOwnResNet18FeaturizerOnTheSameImages()
    {
        // ML.NET's DnnFeaturizeImage runs the same package's preprocessing and network; as its documentation chains it
        // (LoadImages, ResizeImages, ExtractPixels with its defaults), on 224×224 images that neither side resizes, it is the reference.
        var folder = TestData.TempFolder("resnet-reference");
        var rows = Enumerable.Range(0, 3).Select(i => new PathRow { Path = WritePng(folder, $"{i}.png", 224, 224, Blocks(i)) }).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var ours = Columns.Vectors(ml.Transforms.LoadImages("Image", folder, "Path").Append(ml.Transforms.EmbedImages("Features", "Image")).Fit(data).Transform(data), "Features");
        var theirs = Columns.Vectors(ml.Transforms.LoadImages("Image", folder, "Path")
            .Append(ml.Transforms.ResizeImages("Image", 224, 224))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image"))
            .Append(ml.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels")).Fit(data).Transform(data), "Features");
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(512, ours[i].Length);
            double scale = theirs[i].Max(Math.Abs);
            Assert.True(MaxDifference(ours[i], theirs[i]) < 1e-3 * scale, $"image {i}: largest difference {MaxDifference(ours[i], theirs[i]):G3} of features up to {scale:G3}");
        }
        Assert.True(MaxDifference(ours[0], ours[1]) > 0.1, "different images give different features");

        // The planes are in the network's order, blue first (its mean image is ImageNet's: blue 103, green 116, red 123).
        var red = WritePng(folder, "red.png", 224, 224, (x, y) => (255, 0, 0));
        using var image = MLImage.CreateFromFile(red);
        var planes = new float[3 * 224 * 224];
        ImagePreprocessing.CenterCropResizeBgr(image, 224, planes);
        Assert.Equal(new[] { 0f, 0f, 255f }, new[] { planes[0], planes[224 * 224], planes[2 * 224 * 224] });
        var session = ImageEncoderSession.Get(ImageEncoderModel.ResNet18, null, 1);
        double Mean(int c) => session.MeanImage.Skip(c * 224 * 224).Take(224 * 224).Average();
        Assert.True(Mean(0) < Mean(1) && Mean(1) < Mean(2) && Math.Abs(Mean(0) - 103.9) < 2, $"mean image planes {Mean(0):F1}, {Mean(1):F1}, {Mean(2):F1}");
    }

    [Fact]
    public void CropAndResizeKeepTheFeaturesOfTheSameContent()
    {
        // The centre square, shrunk by area averaging or grown bilinearly: a 224 picture, the same picture enlarged 2× by
        // pixel repetition (448), the same picture with 40 columns of other colours on each side (304×224), and a flat
        // colour at 112 and at 224 must each give the same features.
        var folder = TestData.TempFolder("resnet-resize");
        var picture = Blocks(5);
        var side = Blocks(6);
        (byte, byte, byte) Flat(int x, int y) => (200, 40, 90);
        var paths = new[]
        {
            WritePng(folder, "a.png", 224, 224, picture),
            WritePng(folder, "a2x.png", 448, 448, (x, y) => picture(x / 2, y / 2)),
            WritePng(folder, "wide.png", 304, 224, (x, y) => x < 40 || x >= 264 ? side(x, y) : picture(x - 40, y)),
            WritePng(folder, "flat224.png", 224, 224, Flat),
            WritePng(folder, "flat112.png", 112, 112, Flat),
        };
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { Path = p }));
        var f = Columns.Vectors(ml.Transforms.LoadImages("Image", folder, "Path").Append(ml.Transforms.EmbedImages("Features", "Image")).Fit(data).Transform(data), "Features");
        Assert.True(MaxDifference(f[0], f[1]) < 1e-4, $"2× enlargement: {MaxDifference(f[0], f[1]):G3}");
        Assert.True(MaxDifference(f[0], f[2]) < 1e-4, $"centre crop: {MaxDifference(f[0], f[2]):G3}");
        Assert.True(MaxDifference(f[3], f[4]) < 1e-4, $"flat colour grown from 112: {MaxDifference(f[3], f[4]):G3}");
        Assert.True(MaxDifference(f[0], f[3]) > 0.1);
    }

    [Fact]
    public void OneRowBatchesAndASavedModelGiveTheSameFeaturesAndNoImageIsMissing()
    {
        var folder = TestData.TempFolder("resnet-save");
        var rows = Enumerable.Range(0, 5).Select(i => new PathRow { Path = WritePng(folder, $"{i}.png", 96 + 16 * i, 120, Blocks(10 + i)) }).Append(new PathRow { Path = "" }).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var estimator = ml.Transforms.LoadImages("Image", folder, "Path").Append(ml.Transforms.EmbedImages(new ImageEmbeddingOptions { OutputColumnName = "Features", InputColumnName = "Image", BatchSize = 2 }));
        var model = estimator.Fit(data);
        Assert.Equal(512, ((VectorDataViewType)model.GetOutputSchema(data.Schema)["Features"].Type).Size);
        var batched = Columns.Vectors(model.Transform(data), "Features");
        Assert.All(batched[^1], v => Assert.True(float.IsNaN(v)));                  // no image: the modality is missing
        Assert.All(batched.Take(rows.Count - 1), r => Assert.All(r, v => Assert.True(float.IsFinite(v) && v >= 0)));
        var embedder = (ImageEmbeddingTransformer)model.LastTransformer;
        Assert.Equal(rows.Count, embedder.RowsComputed);                            // its cost, for a leaderboard's report
        Assert.True(embedder.ComputeTime > TimeSpan.Zero);

        var engine = ml.Model.CreatePredictionEngine<PathRow, Embedded>(model);
        for (int i = 0; i < rows.Count - 1; i++)
            Assert.Equal(batched[i], engine.Predict(rows[i]).Features);

        var path = System.IO.Path.Combine(TestData.TempFolder("resnet-model"), "model.zip");
        ml.Model.SaveFusionModel(model, data.Schema, path);
        var loaded = ml.Model.LoadFusionModel(path, out _);
        var again = Columns.Vectors(loaded.Transform(data), "Features");
        for (int i = 0; i < rows.Count - 1; i++) Assert.Equal(batched[i], again[i]);
        Assert.True(new FileInfo(path).Length < 64 * 1024, "the weights stay in their package, not in the model file");
    }

    [Fact]
    public void ImagesThatTheirCursorDisposesOnTheNextRowAreEmbeddedInBatches()
    {
        // Behind TakeRows, LoadImages disposes a row's image when the cursor moves on (the benchmark met "Object is
        // disposed"): a batch of four must not hold images until it is embedded.
        var folder = TestData.TempFolder("resnet-dispose");
        var rows = Enumerable.Range(0, 6).Select(i => new PathRow { Path = WritePng(folder, $"{i}.png", 80, 60, Blocks(20 + i)) }).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var loaded = ml.Transforms.LoadImages("Image", folder, "Path").Fit(data).Transform(data);
        var taken = ml.Data.TakeRows(loaded, 5);
        var model = ml.Transforms.EmbedImages(new ImageEmbeddingOptions { OutputColumnName = "Features", InputColumnName = "Image", BatchSize = 4 }).Fit(taken);
        var features = Columns.Vectors(model.Transform(taken), "Features");
        Assert.Equal(5, features.Count);
        Assert.All(features, f => Assert.All(f, v => Assert.True(float.IsFinite(v))));
        var one = Columns.Vectors(model.Transform(ml.Data.TakeRows(loaded, 1)), "Features")[0];
        Assert.Equal(one, features[0]);
    }

    [Fact]
    public void BadInputsAndMissingWeightsGiveTheExactError()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Text = "photo.png", Number = 1f } });
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.EmbedImages("E", "Photo").Fit(data));
        Assert.StartsWith("Could not find input column 'Photo'.", missing.Message);
        Assert.Contains("Hint: EmbedImages reads an image column", missing.Message);
        var text = Assert.ThrowsAny<ArgumentException>(() => ml.Transforms.EmbedImages("E", "Text").Fit(data));
        Assert.StartsWith("Schema mismatch for input column 'Text': expected Image, got String.", text.Message);
        Assert.Contains("Hint: load the images first: mlContext.Transforms.LoadImages", text.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.EmbedImages(new ImageEmbeddingOptions { InputColumnName = "Text", BatchSize = 0 }));

        var source = ImageModelSource.For(ImageEncoderModel.ResNet18);
        Assert.NotNull(source.Find(null));                                          // the package's build put the weights beside the tests
        var absent = source with { ModelFile = System.IO.Path.Combine("ResNet18Onnx", "NotThere.onnx") };
        var empty = TestData.TempFolder("no-weights");
        var error = Assert.Throws<FileNotFoundException>(() => absent.Locate(empty));
        Assert.StartsWith("The pretrained image encoder ResNet18 (ImageNet) needs", error.Message);
        Assert.Contains($"looked in: {empty}; {System.IO.Path.Combine(AppContext.BaseDirectory, "DnnImageModels")}", error.Message);
        Assert.Contains("Hint: add the package to the application (dotnet add package Microsoft.ML.DnnImageFeaturizer.ResNet18 --version 0.24.0)", error.Message);
    }
}
