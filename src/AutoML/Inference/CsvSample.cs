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

    /// <summary>Reads the header and up to <paramref name="maxRows"/> rows in one pass; all rows are counted, and the distinct
    /// values of <paramref name="classColumn"/> (when it is a column name) are collected from all of them.</summary>
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
        string? text;
        while ((text = reader.ReadLine()) != null)
        {
            line++;
            if (text.Length == 0) continue;
            total++;
            if (rows.Count >= maxRows && classIndex < 0) continue;
            var cells = Split(text, separator);
            if (classIndex >= 0 && classIndex < cells.Length && cells[classIndex].Trim() is { Length: > 0 } value && seen.Add(value)) classes.Add(value);
            if (rows.Count >= maxRows) continue;
            if (cells.Length != header.Length)
                throw new InvalidDataException($"Line {line} of '{path}' has {cells.Length} fields but the header has {header.Length}: \"{Shorten(text)}\"." + Environment.NewLine +
                    "Hint: quote fields that contain the separator (\"a,b\"), or pass the right separator.");
            rows.Add(cells); lines.Add(line);
        }
        if (total == 0)
            throw new InvalidDataException($"CSV file '{path}' has a header but no rows." + Environment.NewLine + "Hint: add data rows below the header.");
        return new CsvSample { Path = path, Separator = separator, Header = header, Rows = rows, LineNumbers = lines, TotalRows = total, Classes = classes };
    }

    /// <summary>Splits one line, honouring double quotes ("" inside quotes is a quote).</summary>
    public static string[] Split(string line, char separator)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else cell.Append(c);
            }
            else if (c == '"' && cell.Length == 0) quoted = true;
            else if (c == separator) { cells.Add(cell.ToString()); cell.Clear(); }
            else cell.Append(c);
        }
        cells.Add(cell.ToString());
        return cells.ToArray();
    }

    public static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}
