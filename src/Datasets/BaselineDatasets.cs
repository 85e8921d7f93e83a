using System.Globalization;
using System.Text;

namespace MLNetFusion.Datasets;

/// <summary>
/// Generated datasets that exercise what avdigits does not, for the baseline benchmark: a tabular one whose label
/// depends on a high-cardinality code (like a zip code) and on a skewed numeric column, and a text one with one
/// informative free-text column beside two uninformative short text columns.
/// </summary>
public static class BaselineDatasets
{
    /// <summary>
    /// <c>train.csv</c> and <c>test.csv</c> with <c>Label</c> (3 price classes), <c>Zip</c> (300 five-digit codes, each with
    /// its own effect), <c>Income</c> (log-normal, its logarithm matters), <c>Rooms</c> (1-6), <c>Street</c> (a weak category) and
    /// <c>Noise</c>. Returns the folder.
    /// </summary>
    public static string Tabular(string folder, int seed = 1, int trainRows = 3000, int testRows = 1000)
    {
        if (Stamp(folder, $"tabular v1 seed={seed} {trainRows}/{testRows}")) return folder;
        var r = new Random(seed);
        var zips = Enumerable.Range(0, 300).Select(i => (code: 10000 + i * 137, effect: Gauss(r) * 1.2)).ToArray();
        var streets = Enumerable.Range(0, 20).Select(i => $"street {i}").ToArray();
        string Row()
        {
            var zip = zips[r.Next(zips.Length)];
            double income = Math.Exp(10 + 0.8 * Gauss(r));
            int rooms = 1 + r.Next(6);
            double score = zip.effect + 0.9 * (Math.Log(income) - 10) / 0.8 + 0.3 * (rooms - 3.5) + 0.6 * Gauss(r);
            int label = score < -0.6 ? 0 : score < 0.6 ? 1 : 2;
            return string.Create(CultureInfo.InvariantCulture, $"{label},{zip.code},{income:F0},{rooms},{streets[r.Next(streets.Length)]},{Gauss(r):F3}");
        }
        Write(folder, "Label,Zip,Income,Rooms,Street,Noise", Row, trainRows, testRows);
        return folder;
    }

    /// <summary>
    /// <c>train.csv</c> and <c>test.csv</c> with <c>Label</c> (positive/negative), <c>Review</c> (12 words of which one or two
    /// carry the sentiment in 85% of rows) and two uninformative short text columns, <c>Title</c> and <c>Channel</c>.
    /// </summary>
    public static string Text(string folder, int seed = 1, int trainRows = 2000, int testRows = 1000)
    {
        if (Stamp(folder, $"text v1 seed={seed} {trainRows}/{testRows}")) return folder;
        var r = new Random(seed);
        string[] good = { "great", "excellent", "friendly", "fast", "comfortable", "recommend" }, bad = { "awful", "late", "rude", "broken", "dirty", "never" };
        var filler = Enumerable.Range(0, 400).Select(i => $"word{i}").ToArray();
        var titles = Enumerable.Range(0, 200).Select(i => $"title {i}").ToArray();
        string Row()
        {
            bool positive = r.NextDouble() < 0.5;
            var words = Enumerable.Range(0, 12).Select(_ => filler[r.Next(filler.Length)]).ToList();
            var pool = r.NextDouble() < 0.85 == positive ? good : bad;
            for (int k = 0, n = 1 + r.Next(2); k < n; k++) words[r.Next(words.Count)] = pool[r.Next(pool.Length)];
            return $"{(positive ? "positive" : "negative")},{string.Join(' ', words)},{titles[r.Next(titles.Length)]},channel {r.Next(5)} feed";
        }
        Write(folder, "Label,Review,Title,Channel", Row, trainRows, testRows);
        return folder;
    }

    private static bool Stamp(string folder, string expected)
    {
        var stamp = Path.Combine(folder, "dataset.txt");
        if (File.Exists(stamp) && File.ReadAllText(stamp).Trim() == expected) return true;
        Directory.CreateDirectory(folder);
        File.WriteAllText(stamp, expected + Environment.NewLine);
        return false;
    }

    private static void Write(string folder, string header, Func<string> row, int trainRows, int testRows)
    {
        foreach (var (file, rows) in new[] { ("train.csv", trainRows), ("test.csv", testRows) })
        {
            var sb = new StringBuilder(header).Append('\n');
            for (int i = 0; i < rows; i++) sb.Append(row()).Append('\n');
            File.WriteAllText(Path.Combine(folder, file), sb.ToString());
        }
    }

    private static double Gauss(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}
