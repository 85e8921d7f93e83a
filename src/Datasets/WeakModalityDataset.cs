using System.Globalization;
using System.Text;

namespace MLNetFusion.Datasets;

/// <summary>
/// Generates a small dataset with one informative and one weak modality, the situation where a fusion model can end
/// below its best single modality: three price-like classes, four tabular columns that carry the label well, and large
/// (64 × 64) images that are nearly noise — a faint class-dependent brightness under a random per-image exposure, with
/// random blobs that a CNN can memorise. Its few hundred training rows make the image branch easy to overfit.
/// </summary>
/// <remarks>
/// Measured with <c>mlnetfusion-bench --only weak</c>. It reproduces a failure seen on a real 427-row dataset (house
/// photos and four tabular columns): tabular columns alone reached about 70%, an image CNN alone about 44%, and most
/// joint models fell between the two.
/// </remarks>
public static class WeakModalityDataset
{
    /// <summary>The class names, in order of the latent value.</summary>
    public static readonly string[] ClassNames = { "low", "mid", "high" };
    /// <summary>Image side in pixels.</summary>
    public const int ImageSize = 64;
    /// <summary>The tabular columns.</summary>
    public static readonly string[] NumericColumns = { "Area", "Rooms", "Age", "Distance" };

    /// <summary>Generates the dataset into <paramref name="folder"/> unless a complete copy with the same parameters is there.</summary>
    /// <returns>The folder.</returns>
    /// <param name="folder">Where to write train.csv, test.csv and images/.</param>
    /// <param name="seed">The data seed.</param>
    /// <param name="trainRows">Training rows.</param>
    /// <param name="testRows">Test rows.</param>
    /// <param name="zipCodes">Also a <c>Zip</c> column: one of 12 five-digit codes per row, each shifting the latent price
    /// by its own offset (as a neighbourhood does), so the best tabular model must treat it as a category.</param>
    public static string EnsureGenerated(string folder, int seed = 7, int trainRows = 400, int testRows = 1000, bool zipCodes = false)
    {
        string stamp = Path.Combine(folder, "dataset.txt");
        string expected = $"MLNetFusion weak-modality dataset v1 seed={seed} train={trainRows} test={testRows}" + (zipCodes ? " zip=12" : "");
        if (File.Exists(stamp) && File.ReadAllText(stamp).Trim() == expected) return folder;
        Directory.CreateDirectory(Path.Combine(folder, "images"));
        var rand = new Random(seed);
        // Each zip code's offset of the latent class, fixed by the seed (drawn apart from the rows' generator).
        var zipRand = new Random(seed * 31 + 1);
        var zips = zipCodes ? Enumerable.Range(0, 12).Select(i => (code: 90001 + 137 * i, offset: 1.6 * (zipRand.NextDouble() - 0.5))).ToArray() : null;
        WriteSplit(folder, "train.csv", 0, trainRows, rand, zips);
        WriteSplit(folder, "test.csv", trainRows, testRows, rand, zips);
        File.WriteAllText(stamp, expected + Environment.NewLine);
        return folder;
    }

    private static void WriteSplit(string folder, string file, int firstId, int rows, Random rand, (int code, double offset)[]? zips)
    {
        var csv = new StringBuilder();
        csv.AppendLine("Id,Label,ImagePath," + string.Join(",", NumericColumns) + (zips != null ? ",Zip" : ""));
        for (int i = 0; i < rows; i++)
        {
            int id = firstId + i, z = rand.Next(ClassNames.Length);
            // With zip codes the class is the latent price plus the neighbourhood's offset, rounded into the three classes;
            // the other columns and the image describe the latent house, so the zip code is needed to tell its class.
            int zipIndex = zips != null ? rand.Next(zips.Length) : -1;
            int house = z;
            if (zips != null) z = Math.Clamp((int)Math.Round(house + zips[zipIndex].offset), 0, ClassNames.Length - 1);
            string img = $"images/{id}.png";
            PngWriter.WriteGray(Path.Combine(folder, img), Draw(z, rand), ImageSize, ImageSize);
            double area = 80 + 25 * (house + 0.75 * Gauss(rand));
            double rooms = Math.Max(1, Math.Round(2 + 0.8 * house + 1.2 * Gauss(rand)));
            double age = Math.Max(0, 40 - 6 * house + 15 * Gauss(rand));
            double distance = 20 * rand.NextDouble();
            csv.Append(CultureInfo.InvariantCulture, $"{id},{ClassNames[z]},{img},{area:F1},{rooms:F0},{age:F1},{distance:F2}");
            if (zips != null) csv.Append(CultureInfo.InvariantCulture, $",{zips[zipIndex].code}");
            csv.Append('\n');
        }
        File.WriteAllText(Path.Combine(folder, file), csv.ToString());
    }

    /// <summary>Noise and blobs under a random exposure; the class shifts the exposure by less than its spread.</summary>
    private static byte[] Draw(int z, Random rand)
    {
        int n = ImageSize;
        double exposure = 110 + 9 * (z - 1) + 20 * Gauss(rand);
        var px = new double[n * n];
        for (int k = 0; k < px.Length; k++) px[k] = exposure + 40 * Gauss(rand);
        int blobs = 2 + rand.Next(4);
        for (int b = 0; b < blobs; b++)
        {
            double cx = rand.NextDouble() * n, cy = rand.NextDouble() * n, r = 3 + 8 * rand.NextDouble(), v = 90 * (rand.NextDouble() - 0.5);
            for (int y = 0; y < n; y++)
                for (int x = 0; x < n; x++)
                    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) px[y * n + x] += v;
        }
        return px.Select(v => (byte)Math.Clamp(Math.Round(v), 0, 255)).ToArray();
    }

    private static double Gauss(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}
