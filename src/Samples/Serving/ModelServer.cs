using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;

namespace MLNetFusion.Samples.Serving;

/// <summary>
/// The serving side of a saved fusion model, as a batch job or a second process would run it: load the file with a
/// fresh <see cref="MLContext"/>, read a CSV whose columns follow the saved input schema, and write predictions.
/// Nothing here knows which fusion family or featurizers the model holds.
/// </summary>
public static class ModelServer
{
    /// <summary>
    /// Predicts every row of <paramref name="inputCsv"/> and writes <paramref name="columns"/> to <paramref name="outputCsv"/>,
    /// all or nothing: the predictions go to a temporary file that replaces <paramref name="outputCsv"/> only when every row
    /// succeeded, so a failure leaves no partial output (and an earlier output file untouched).
    /// </summary>
    /// <param name="modelPath">A file written by <c>mlContext.Model.SaveFusionModel</c> with its input schema.</param>
    /// <param name="inputCsv">CSV with a header. A scalar input column is found by name; a vector column of size n by
    /// <c>name.0 … name.(n-1)</c>, or as n columns starting at <c>name</c>.</param>
    /// <param name="outputCsv">Where to write one line per row.</param>
    /// <param name="columns">Output columns to write (a key column is written as its key value, a vector slot by slot).</param>
    /// <returns>Rows written.</returns>
    /// <exception cref="InvalidDataException">A row cannot be predicted. The message names the CSV line (the header is line 1),
    /// the column and, for text that is not a number, the text itself in quotes.</exception>
    public static int Predict(string modelPath, string inputCsv, string outputCsv, IReadOnlyList<string> columns)
    {
        var ml = new MLContext(seed: 0);
        var model = ml.Model.LoadFusionModel(modelPath, out var schema);
        string partial = outputCsv + ".partial";
        try
        {
            if (schema == null) throw new InvalidOperationException($"Model '{modelPath}' was saved without its input schema. Hint: pass data.Schema to SaveFusionModel.");
            var loaderColumns = LoaderColumns(schema, inputCsv);
            CheckNumbers(inputCsv, loaderColumns);
            // An empty numeric field is a missing value (NaN), never a silent 0: a row whose vector is all empty is a missing
            // modality, one with some empty fields an error naming its line.
            var data = ml.Data.CreateTextLoader(new TextLoader.Options
            {
                Columns = loaderColumns, Separators = new[] { ',' }, HasHeader = true, AllowQuoting = true, MissingRealsAsNaNs = true,
            }).Load(inputCsv);
            int rows;
            try { rows = WriteCsv(model.Transform(data), columns, partial); }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                var cause = Unwrap(ex);
                if (RowPosition(cause) is not long row) throw;
                // TextLoader numbers rows from 0 after the header: CSV line = row + 2 (one line per row, as CheckNumbers ensured).
                throw new InvalidDataException($"'{inputCsv}' line {row + 2}: " + cause.Message[(cause.Message.IndexOf(':') + 1)..].TrimStart(), cause);
            }
            File.Move(partial, outputCsv, overwrite: true);
            return rows;
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>The exception behind ML.NET's wrappers (parallel cursors report a worker's failure as "Splitter/consolidator worker encountered exception").</summary>
    private static Exception Unwrap(Exception ex)
    {
        while (ex.InnerException != null && (ex is AggregateException or System.Reflection.TargetInvocationException || RowPosition(ex) == null)) ex = ex.InnerException;
        return ex;
    }

    /// <summary>The row position an MLNetFusion error starts with ("Row 12: …"), or <c>null</c>.</summary>
    private static long? RowPosition(Exception ex)
    {
        var m = System.Text.RegularExpressions.Regex.Match(ex.Message, @"^Row (\d+):");
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>
    /// Every field the model reads as a number must be one: TextLoader would read "abc" as NaN, a value MLNetFusion then
    /// reports without the text. An empty field is a missing value, as in ML.NET.
    /// </summary>
    private static void CheckNumbers(string csv, TextLoader.Column[] columns)
    {
        var numeric = columns.Where(c => c.DataKind is DataKind.Single or DataKind.Double or DataKind.Int32 or DataKind.Int64 or DataKind.UInt32 or DataKind.UInt64)
            .SelectMany(c => c.Source.SelectMany(r => Enumerable.Range(r.Min, (r.Max ?? r.Min) - r.Min + 1))).ToArray();
        int needed = columns.SelectMany(c => c.Source).Max(r => r.Max ?? r.Min) + 1;
        using var reader = new StreamReader(csv);
        var header = MLNetFusion.AutoML.Inference.CsvSample.Split(reader.ReadLine() ?? "", ',');
        int lineNumber = 1;
        for (string? line = reader.ReadLine(); line != null; line = reader.ReadLine())
        {
            lineNumber++;
            var fields = MLNetFusion.AutoML.Inference.CsvSample.Split(line, ',');
            if (fields.Length < needed)
                throw new InvalidDataException($"'{csv}' line {lineNumber} has {fields.Length} fields, but the model's input columns need {needed}." + Environment.NewLine +
                    "Hint: every row needs a value (or an empty field) for each column of the header; quote fields that contain commas.");
            foreach (int i in numeric)
            {
                var text = fields[i].Trim();
                if (text.Length > 0 && !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                    throw new InvalidDataException($"'{csv}' line {lineNumber}, column '{(i < header.Length ? header[i] : $"#{i + 1}")}': \"{text}\" is not a number." + Environment.NewLine +
                        "Hint: write numbers with '.' as the decimal separator, and leave the field empty for a missing value.");
            }
        }
    }

    /// <summary>TextLoader columns for <paramref name="schema"/>, located by the CSV header.</summary>
    public static TextLoader.Column[] LoaderColumns(DataViewSchema schema, string csv)
    {
        var header = File.ReadLines(csv).First().Split(',');
        var result = new List<TextLoader.Column>();
        foreach (var c in schema)
        {
            if (c.IsHidden) continue;
            var itemType = c.Type is VectorDataViewType v ? v.ItemType : c.Type;
            var kind = KindOf(itemType) ?? throw new NotSupportedException($"Input column '{c.Name}' has type {c.Type}, which a CSV cannot hold." + Environment.NewLine +
                "Hint: save the model with the schema of the data as loaded from text (before image loading), so every input column is text, a number or a vector of numbers.");
            var key = itemType is KeyDataViewType k ? new KeyCount(k.Count) : null;
            if (c.Type is VectorDataViewType vec)
            {
                int size = vec.Size;
                int first = Array.IndexOf(header, $"{c.Name}.0");
                if (first < 0) first = Array.IndexOf(header, c.Name);
                if (first < 0 || first + size > header.Length)
                    throw new InvalidOperationException($"'{csv}' has no columns for input column '{c.Name}' ({size} values). Hint: name them {c.Name}.0 … {c.Name}.{size - 1}.");
                result.Add(new TextLoader.Column(c.Name, kind, new[] { new TextLoader.Range(first, first + size - 1) }, key));
            }
            else
            {
                int i = Array.IndexOf(header, c.Name);
                if (i < 0) throw new InvalidOperationException($"'{csv}' has no column '{c.Name}' (columns: {string.Join(", ", header)}). Hint: the CSV needs every column of the model's input schema.");
                result.Add(new TextLoader.Column(c.Name, kind, new[] { new TextLoader.Range(i) }, key));
            }
        }
        return result.ToArray();
    }

    private static DataKind? KindOf(DataViewType t) => t.RawType switch
    {
        var r when r == typeof(float) => DataKind.Single,
        var r when r == typeof(double) => DataKind.Double,
        var r when r == typeof(int) => DataKind.Int32,
        var r when r == typeof(uint) => DataKind.UInt32,
        var r when r == typeof(long) => DataKind.Int64,
        var r when r == typeof(ulong) => DataKind.UInt64,
        var r when r == typeof(bool) => DataKind.Boolean,
        var r when r == typeof(ReadOnlyMemory<char>) => DataKind.String,
        _ => null,
    };

    /// <summary>Writes the named columns of <paramref name="data"/> as CSV (floats round-trip exactly).</summary>
    public static int WriteCsv(IDataView data, IReadOnlyList<string> columns, string path)
    {
        var cols = columns.Select(n => data.Schema.GetColumnOrNull(n) ?? throw new InvalidOperationException(
            $"The model does not output column '{n}' (it outputs: {string.Join(", ", data.Schema.Where(c => !c.IsHidden).Select(c => c.Name))})." +
            Environment.NewLine + "Hint: pass --columns with names from that list.")).ToArray();
        var writers = cols.Select(c => Writer(data.Schema, c)).ToArray();
        using var cursor = data.GetRowCursor(cols);
        var getters = writers.Select(w => w(cursor)).ToArray();
        using var output = new StreamWriter(path, false, new UTF8Encoding(false));
        output.WriteLine(string.Join(",", cols.Select(c => c.Type is VectorDataViewType v
            ? string.Join(",", Enumerable.Range(0, v.Size).Select(i => $"{c.Name}.{i}")) : c.Name)));
        int rows = 0;
        var line = new StringBuilder();
        while (cursor.MoveNext())
        {
            line.Clear();
            for (int i = 0; i < getters.Length; i++) { if (i > 0) line.Append(','); getters[i](line); }
            output.WriteLine(line);
            rows++;
        }
        return rows;
    }

    private static Func<DataViewRow, Action<StringBuilder>> Writer(DataViewSchema schema, DataViewSchema.Column c)
    {
        var inv = CultureInfo.InvariantCulture;
        if (c.Type is VectorDataViewType { ItemType: NumberDataViewType { RawType: var t } } && t == typeof(float))
            return row =>
            {
                var g = row.GetGetter<VBuffer<float>>(c); VBuffer<float> buf = default;
                return sb => { g(ref buf); sb.AppendJoin(',', buf.DenseValues().Select(x => x.ToString("R", inv))); };
            };
        if (c.Type is KeyDataViewType)
        {
            VBuffer<ReadOnlyMemory<char>> names = default;
            bool hasNames = c.Annotations.Schema.GetColumnOrNull(AnnotationNames.KeyValues)?.Type is VectorDataViewType { ItemType: TextDataViewType };
            if (hasNames) c.Annotations.GetValue(AnnotationNames.KeyValues, ref names);
            var values = hasNames ? names.DenseValues().Select(m => m.ToString()).ToArray() : null;
            return row =>
            {
                var g = row.GetGetter<uint>(c); uint key = 0;
                return sb => { g(ref key); sb.Append(values != null && key > 0 && key <= values.Length ? values[key - 1] : key.ToString(inv)); };
            };
        }
        if (c.Type == NumberDataViewType.Single)
            return row => { var g = row.GetGetter<float>(c); float v = 0; return sb => { g(ref v); sb.Append(v.ToString("R", inv)); }; };
        if (c.Type is TextDataViewType)
            return row => { var g = row.GetGetter<ReadOnlyMemory<char>>(c); ReadOnlyMemory<char> v = default; return sb => { g(ref v); sb.Append(v); }; };
        if (c.Type is PrimitiveDataViewType && typeof(IFormattable).IsAssignableFrom(c.Type.RawType) || c.Type.RawType == typeof(bool))
            return (Func<DataViewRow, Action<StringBuilder>>)typeof(ModelServer).GetMethod(nameof(ScalarWriter), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(c.Type.RawType).Invoke(null, new object[] { c })!;
        throw new NotSupportedException($"Output column '{c.Name}' has type {c.Type}, which cannot be written to CSV." + Environment.NewLine +
            "Hint: pass --columns with number, Vector<Single>, key or text columns (e.g. PredictedLabel Score).");
    }

    private static Func<DataViewRow, Action<StringBuilder>> ScalarWriter<T>(DataViewSchema.Column c)
        => row => { var g = row.GetGetter<T>(c); T v = default!; return sb => { g(ref v); sb.Append(Convert.ToString(v, CultureInfo.InvariantCulture)); }; };
}
