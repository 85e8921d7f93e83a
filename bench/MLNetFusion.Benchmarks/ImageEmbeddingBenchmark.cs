using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Pretrained.Image;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only images</c> (issue 42): image-embedding throughput of <c>EmbedImages</c> (ResNet18 with ONNX Runtime)
/// through <c>Transform</c>, from decoded photos of 224×224 and of 640×480 (which it crops and shrinks first).
/// </summary>
internal static class ImageEmbeddingBenchmark
{
    public static void Run(int rows = 200)
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlnetfusion-bench-images");
        Directory.CreateDirectory(folder);
        var rand = new Random(1);
        foreach (var (width, height) in new[] { (224, 224), (640, 480) })
        {
            var paths = Enumerable.Range(0, rows).Select(i => Write(Path.Combine(folder, $"{width}x{height}-{i}.png"), width, height, rand)).ToList();
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { Path = p }));
            var loaded = ml.Transforms.LoadImages("Image", folder, "Path").Fit(data).Transform(data);
            var model = ml.Transforms.EmbedImages("E", "Image").Fit(loaded);
            Consume(model.Transform(ml.Data.TakeRows(loaded, 4)), "E");   // load the model once
            var rates = new List<double>();
            for (int rep = 0; rep < Repetitions; rep++)
            {
                var sw = Stopwatch.StartNew();
                long n = Consume(model.Transform(loaded), "E");
                rates.Add(n / sw.Elapsed.TotalSeconds);
            }
            Emit(new { benchmark = "image_embedding_throughput", model = "ResNet18", rows, image = $"{width}x{height}", includes = "PNG decoding, crop and resize",
                threads = MLNetFusion.Runtime.TorchRuntime.DefaultThreads(), images_per_second = Math.Round(Median(rates), 1), repetitions = Repetitions });
        }
    }

    // Blocks of random colours: PNG files that decode like photos of their size.
    private static string Write(string path, int width, int height, Random rand)
    {
        if (File.Exists(path)) return path;
        var bytes = new byte[width * height * 4];
        var colours = Enumerable.Range(0, 64).Select(_ => new[] { (byte)rand.Next(256), (byte)rand.Next(256), (byte)rand.Next(256) }).ToArray();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = colours[(y / 32 * 7 + x / 32) % 64];
                int p = (y * width + x) * 4;
                bytes[p] = c[0]; bytes[p + 1] = c[1]; bytes[p + 2] = c[2]; bytes[p + 3] = 255;
            }
        using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Bgra32, bytes);
        image.Save(path);
        return path;
    }

    private sealed class PathRow { public string Path { get; set; } = ""; }
}
