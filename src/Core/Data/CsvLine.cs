using System.Text;

namespace MLNetFusion.Data;

/// <summary>The one CSV line splitter of MLNetFusion: column inference reads training files with it and serving reads rows to predict.</summary>
internal static class CsvLine
{
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
}
