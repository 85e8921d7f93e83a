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

    /// <summary>
    /// <c>train.csv</c> and <c>test.csv</c> of short reviews with six tabular columns, the shape of a product or tweet
    /// dataset: <c>Label</c> (negative, neutral, positive) comes from the review's words (a sentiment word in most rows,
    /// sometimes the wrong one) and from the tabular columns together (<c>Stars</c> and <c>Verified</c> carry part of it;
    /// <c>Price</c> is right-skewed, <c>Region</c> and <c>Hour</c> shift it a little, <c>Age</c> is noise), so neither
    /// modality alone reaches what both give.
    /// </summary>
    public static string TextAndTabular(string folder, int seed = 1, int trainRows = 12_000, int testRows = 3_000)
    {
        if (Stamp(folder, $"text-and-tabular v1 seed={seed} {trainRows}/{testRows}")) return folder;
        var r = new Random(seed);
        string[] good = { "great", "love", "excellent", "perfect", "happy", "recommend" }, bad = { "awful", "broken", "refund", "worst", "disappointed", "never" },
            flat = { "okay", "fine", "average", "decent" }, regions = { "north", "south", "east", "west", "central" };
        var filler = Enumerable.Range(0, 600).Select(i => $"word{i}").ToArray();
        string Row()
        {
            int label = r.Next(3);                                            // 0 negative, 1 neutral, 2 positive
            // The review: a word of the label's sentiment in 70% of rows, another's in 15%, none in 15%.
            var words = Enumerable.Range(0, 6 + r.Next(8)).Select(_ => filler[r.Next(filler.Length)]).ToList();
            double u = r.NextDouble();
            int said = u < 0.70 ? label : u < 0.85 ? r.Next(3) : -1;
            if (said >= 0) words[r.Next(words.Count)] = (said == 0 ? bad : said == 1 ? flat : good)[r.Next(4)];
            // The tabular side: stars lean with the label, verified buyers' more so; the rest shifts a little or is noise.
            bool verified = r.NextDouble() < 0.6;
            double stars = Math.Clamp(Math.Round(3 + (label - 1) * (verified ? 1.3 : 0.6) + Gauss(r) * 1.1), 1, 5);
            double price = Math.Round(Math.Exp(3 + Gauss(r) * 0.9), 2);
            string region = regions[r.Next(regions.Length)];
            int hour = (r.Next(24) + (label == 0 ? 6 : 0)) % 24;
            int age = 18 + r.Next(60);
            return string.Create(CultureInfo.InvariantCulture,
                $"{(label == 0 ? "negative" : label == 1 ? "neutral" : "positive")},{string.Join(' ', words)},{stars:F0},{(verified ? "yes" : "no")},{price:F2},{region},{hour},{age}");
        }
        Write(folder, "Label,Review,Stars,Verified,Price,Region,Hour,Age", Row, trainRows, testRows);
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
