using MLNetFusion.Data;
using System.Text;

namespace MLNetFusion.AutoML.Inference;

/// <summary>A CSV file's header and a sample of its rows as text, with each row's line number.</summary>
internal sealed class CsvSample
{
    public required string Path { get; init; }
    public required char Separator { get; init; }
    public required string[] Header { get; init; }
    public required List<string[]> Rows { get; init; }
    public required List<int> LineNumbers { get; init; }
    public required long TotalRows { get; init; }
    /// <summary>The distinct values of the class column over every row, in order of first appearance (empty without one).</summary>
    public required List<string> Classes { get; init; }

    /// <summary>
    /// Reads the header and a sample of up to <paramref name="maxRows"/> rows in one pass: a seeded uniform sample of the
    /// whole file (reservoir sampling), kept in file order, so a file sorted by group, source or label is sampled across
    /// all of them, not by its first rows. All rows are counted and checked for their field count, and the distinct
    /// values of <paramref name="classColumn"/> (when it is a column name) are collected from all of them.
    /// </summary>
    public static CsvSample Read(string path, char separator, int maxRows, string? classColumn = null)
    {
        if (Directory.Exists(path))
            throw new ArgumentException($"'{path}' is a directory, not a CSV file." + Environment.NewLine + "Hint: pass the path of the CSV file (for example data/train.csv).", nameof(path));
        if (!File.Exists(path))
            throw new FileNotFoundException($"CSV file '{path}' does not exist." + Environment.NewLine + "Hint: check the path; relative paths are resolved from the current folder.", path);
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        int line = 0;
        string? headerLine = reader.ReadLine(); line++;
        if (string.IsNullOrWhiteSpace(headerLine))
            throw new InvalidDataException($"CSV file '{path}' is empty: it has no header line." + Environment.NewLine + "Hint: the first line must name the columns, e.g. Label,ImagePath,AudioPath.");
        var header = Split(headerLine, separator).Select(h => h.Trim()).ToArray();
        var dup = header.GroupBy(h => h).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new InvalidDataException($"CSV file '{path}' names column '{dup.Key}' twice (line 1)." + Environment.NewLine + "Hint: give every column a unique name.");
        var empty = Array.IndexOf(header, "");
        if (empty >= 0) throw new InvalidDataException($"CSV file '{path}' has an unnamed column (column {empty + 1} of line 1)." + Environment.NewLine + "Hint: give every column a name in the header.");
        int classIndex = classColumn == null ? -1 : Array.IndexOf(header, classColumn);
        var classes = new List<string>(); var seen = new HashSet<string>();
        var rows = new List<string[]>(); var lines = new List<int>();
        long total = 0;
        var rand = new Random(SampleSeed);
        string? text;
        while ((text = reader.ReadLine()) != null)
        {
            line++;
            if (text.Length == 0) continue;
            total++;
            var cells = Split(text, separator);
            if (cells.Length != header.Length)
                throw new InvalidDataException($"Line {line} of '{path}' has {cells.Length} fields but the header has {header.Length}: \"{Shorten(text)}\"." + Environment.NewLine +
                    "Hint: quote fields that contain the separator (\"a,b\"), or pass the right separator.");
            if (classIndex >= 0 && cells[classIndex].Trim() is { Length: > 0 } value && seen.Add(value)) classes.Add(value);
            // Algorithm R: the first maxRows rows, then row k replaces a random one with probability maxRows / k.
            if (rows.Count < maxRows) { rows.Add(cells); lines.Add(line); continue; }
            long slot = rand.NextInt64(total);
            if (slot < maxRows) { rows[(int)slot] = cells; lines[(int)slot] = line; }
        }
        if (total == 0)
            throw new InvalidDataException($"CSV file '{path}' has a header but no rows." + Environment.NewLine + "Hint: add data rows below the header.");
        // In file order, so decoding and reports follow the file.
        var order = Enumerable.Range(0, rows.Count).OrderBy(i => lines[i]).ToArray();
        return new CsvSample { Path = path, Separator = separator, Header = header, Rows = order.Select(i => rows[i]).ToList(), LineNumbers = order.Select(i => lines[i]).ToList(), TotalRows = total, Classes = classes };
    }

    /// <summary>Splits one line (<see cref="CsvLine.Split"/>).</summary>
    public static string[] Split(string line, char separator) => CsvLine.Split(line, separator);

    /// <summary>The seed of the row sample, fixed so that inference on one file always sees the same rows.</summary>
    public const int SampleSeed = 20261206;

    public static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}
