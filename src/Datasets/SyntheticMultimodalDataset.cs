using System.Globalization;
using System.Text;
using MLNetFusion.Transforms.Audio;

namespace MLNetFusion.Datasets;

/// <summary>
/// Generates MLNetFusion's default dataset: real PNG images, real WAV clips and a CSV of tabular columns, seeded.
/// </summary>
/// <remarks>
/// Each of the 8 classes is a combination of three binary factors, one carried by each modality:
/// the image shows a disc or a square (factor A), the clip is a low or a high tone (factor B), and the tabular columns
/// encode factor C through a noisy linear signal (plus a weakly informative category). Any single modality can at best
/// tell its own factor apart — 2 of 8 classes, so at most about 25% accuracy — while the three together identify the
/// class. Noise makes each factor imperfect, so fused accuracy is high but below 100%.
/// Each row also has a recording <c>Site</c> (one of 4, independent of the label) whose microphone adds a hum of its own
/// frequency to the clip: a channel effect, so leave-one-site-out (<c>--group Site</c>) measures a small audio shift.
/// A free-text <c>Notes</c> column (a short note of filler words and one or two words of outlook) carries factor C a
/// second time, independently of the tabular columns: its outlook words agree with the factor in 75% of rows, and 10%
/// of the notes are empty (a missing modality). Fusing all four modalities therefore beats fusing three.
/// </remarks>
public static class SyntheticMultimodalDataset
{
    /// <summary>Number of classes.</summary>
    public const int Classes = 8;
    /// <summary>Image side in pixels.</summary>
    public const int ImageSize = 32;
    /// <summary>Audio sample rate.</summary>
    public const int SampleRate = 8000;
    /// <summary>Audio clip length in seconds.</summary>
    public const double ClipSeconds = 0.5;
    /// <summary>Class names (factor letters).</summary>
    public static readonly string[] ClassNames = Enumerable.Range(0, Classes)
        .Select(c => $"{((c & 1) == 0 ? "disc" : "square")}-{((c & 2) == 0 ? "low" : "high")}-{((c & 4) == 0 ? "neg" : "pos")}").ToArray();

    /// <summary>The numeric tabular columns in the CSV.</summary>
    public static readonly string[] NumericColumns = { "Age", "Income", "Score1", "Score2" };
    /// <summary>The categorical tabular column.</summary>
    public const string CategoryColumn = "Region";
    /// <summary>The group column: the recording site (4 sites), never a feature.</summary>
    public const string SiteColumn = "Site";
    /// <summary>Log-mel bands the generated clips are described with (their tones lie in 500-1400 Hz).</summary>
    public const int MelBands = 32;
    /// <summary>The free-text column.</summary>
    public const string NotesColumn = "Notes";
    /// <summary>Number of recording sites.</summary>
    public const int Sites = 4;

    /// <summary>Generates the dataset into <paramref name="folder"/> unless a complete copy with the same parameters is there.</summary>
    /// <returns>The folder.</returns>
    public static string EnsureGenerated(string folder, int seed = 42, int trainRows = 1200, int testRows = 400)
    {
        string stamp = Path.Combine(folder, "dataset.txt");
        string expected = $"MLNetFusion synthetic multimodal dataset v3 seed={seed} train={trainRows} test={testRows}";
        if (File.Exists(stamp) && File.ReadAllText(stamp).Trim() == expected) return folder;
        Directory.CreateDirectory(Path.Combine(folder, "images"));
        Directory.CreateDirectory(Path.Combine(folder, "audio"));
        var rand = new Random(seed);
        var sites = new Random(unchecked(seed * 31 + 17));   // a stream of its own: every other value is as in v1
        var notes = new Random(unchecked(seed * 53 + 29));   // likewise for the notes (v3)
        WriteSplit(folder, "train.csv", 0, trainRows, rand, sites, notes);
        WriteSplit(folder, "test.csv", trainRows, testRows, rand, sites, notes);
        File.WriteAllText(stamp, expected + Environment.NewLine);
        return folder;
    }

    private static void WriteSplit(string folder, string file, int firstId, int rows, Random rand, Random sites, Random notes)
    {
        var csv = new StringBuilder();
        csv.AppendLine("Id,Label,ImagePath,AudioPath," + string.Join(",", NumericColumns) + "," + CategoryColumn + "," + SiteColumn + "," + NotesColumn);
        for (int i = 0; i < rows; i++)
        {
            int id = firstId + i;
            int label = rand.Next(Classes);
            int site = sites.Next(Sites);
            bool square = (label & 1) != 0, high = (label & 2) != 0, positive = (label & 4) != 0;
            string img = $"images/{id}.png", wav = $"audio/{id}.wav";
            PngWriter.WriteGray(Path.Combine(folder, img), DrawShape(square, rand), ImageSize, ImageSize);
            WavWriter.Write(Path.Combine(folder, wav), Tone(high, rand, site), SampleRate);
            double c = positive ? 1 : -1;
            double age = 40 + 10 * Gauss(rand) + 6 * c;
            double income = 50000 + 12000 * Gauss(rand) + 7000 * c;
            double s1 = 0.9 * c + 0.9 * Gauss(rand);
            double s2 = Gauss(rand);
            string region = rand.NextDouble() < (positive ? 0.65 : 0.35) ? "north" : "south";
            csv.Append(CultureInfo.InvariantCulture, $"{id},{ClassNames[label]},{img},{wav},{age:F2},{income:F0},{s1:F4},{s2:F4},{region},site{site},{Note(positive, notes)}\n");
        }
        File.WriteAllText(Path.Combine(folder, file), csv.ToString());
    }

    private static readonly string[] Upbeat = { "promising", "strong", "upbeat", "growing", "solid", "confident" };
    private static readonly string[] Downbeat = { "weak", "declining", "poor", "uncertain", "flat", "hesitant" };
    private static readonly string[] Filler = { "the", "client", "meeting", "notes", "quarter", "review", "call", "follow", "up", "update", "team", "plan", "after", "during", "with" };

    /// <summary>A short note: filler words and one or two outlook words that agree with factor C in 75% of rows; 10% are empty.</summary>
    private static string Note(bool positive, Random r)
    {
        if (r.NextDouble() < 0.1) return "";
        bool agrees = r.NextDouble() < 0.75;
        var outlook = positive == agrees ? Upbeat : Downbeat;
        var words = Enumerable.Range(0, 4 + r.Next(5)).Select(_ => Filler[r.Next(Filler.Length)]).ToList();
        for (int k = 0, n = 1 + r.Next(2); k < n; k++) words.Insert(r.Next(words.Count + 1), outlook[r.Next(outlook.Length)]);
        return string.Join(' ', words);
    }

    private static byte[] DrawShape(bool square, Random rand)
    {
        int n = ImageSize;
        var px = new byte[n * n];
        double r = 5 + rand.NextDouble() * 5;
        double cx = r + 1 + rand.NextDouble() * (n - 2 * r - 2), cy = r + 1 + rand.NextDouble() * (n - 2 * r - 2);
        double brightness = 120 + rand.NextDouble() * 100;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                double dx = x - cx, dy = y - cy;
                bool inside = square ? Math.Max(Math.Abs(dx), Math.Abs(dy)) <= r * 0.85 : dx * dx + dy * dy <= r * r;
                double v = (inside ? brightness : 20) + 45 * Gauss(rand);
                px[y * n + x] = (byte)Math.Clamp(Math.Round(v), 0, 255);
            }
        // An occluding bar makes some images ambiguous, as real data would be.
        if (rand.NextDouble() < 0.5)
        {
            int bx = rand.Next(n - 8), bw = 6 + rand.Next(8);
            for (int y = 0; y < n; y++) for (int x = bx; x < Math.Min(n, bx + bw); x++) px[y * n + x] = (byte)rand.Next(0, 60);
        }
        return px;
    }

    /// <summary>A tone with noise, plus the site's microphone hum (a channel effect: 100-250 Hz, below every tone).</summary>
    private static float[] Tone(bool high, Random rand, int site)
    {
        int len = (int)(SampleRate * ClipSeconds);
        var s = new float[len];
        double f = high ? 900 + rand.NextDouble() * 500 : 500 + rand.NextDouble() * 500;   // overlapping-free but close ranges
        double dur = 0.15 + rand.NextDouble() * 0.25;
        int start = rand.Next(0, len - (int)(dur * SampleRate));
        double amp = 0.1 + rand.NextDouble() * 0.3;
        double noise = 0.08 + rand.NextDouble() * 0.12;
        for (int i = 0; i < len; i++)
        {
            double t = (i - start) / (double)SampleRate;
            double env = t >= 0 && t <= dur ? Math.Sin(Math.PI * t / dur) : 0;
            double hum = 0.06 * Math.Sin(2 * Math.PI * (100 + 50 * site) * i / SampleRate);
            s[i] = (float)Math.Clamp(amp * env * Math.Sin(2 * Math.PI * f * t) + noise * Gauss(rand) + hum, -1, 1);
        }
        return s;
    }

    private static double Gauss(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}
