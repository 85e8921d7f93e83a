using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNetFusion.Data;

namespace MLNetFusion.Serving;

/// <summary>
/// The serving side of a saved fusion model, as a batch job or a second process would run it: load the file with a
/// fresh <see cref="MLContext"/>, read a CSV holding the input columns the model reads (<see cref="RequiredInputColumns"/>:
/// never the label or the group of a model fitted by <c>mlnetfusion fit</c>), and write predictions.
/// Nothing here knows which fusion family or featurizers the model holds.
/// </summary>
/// <remarks>
/// The output CSV writes a key column (<c>PredictedLabel</c>) as its value and a vector column slot by slot; a vector
/// with slot names (a <c>Score</c> column, whose slots are the classes sorted by value) gets one column per slot named
/// <c>Score.&lt;class&gt;</c>, so <c>Score.7</c> is the probability of class 7.
/// </remarks>
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
    /// <param name="onnxRuntime">Serve the whole model's graph, featurization included, with ONNX Runtime (<c>mlContext.Model.WithOnnxRuntime</c>).
    /// Otherwise the model's own chain runs, its networks on <c>FusionServing.CurrentEngine</c> (ONNX Runtime where it covers them, by default). The same columns either way.</param>
    /// <returns>Rows written.</returns>
    /// <exception cref="InvalidDataException">A row cannot be predicted. The message names the CSV line (the header is line 1),
    /// the column and, for text that is not a number, the text itself in quotes.</exception>
    public static int Predict(string modelPath, string inputCsv, string outputCsv, IReadOnlyList<string> columns, bool onnxRuntime = false)
    {
        var ml = new MLContext(seed: 0);
        if (!File.Exists(inputCsv))
            throw new FileNotFoundException($"Input file '{inputCsv}' does not exist." + Environment.NewLine + "Hint: pass --input with a CSV of the rows to predict.", inputCsv);
        var model = ml.Model.LoadFusionModel(modelPath, out var schema);
        string partial = outputCsv + ".partial";
        try
        {
            if (schema == null) throw new InvalidOperationException($"Model '{modelPath}' was saved without its input schema." + Environment.NewLine + "Hint: pass data.Schema to SaveFusionModel.");
            var loaderColumns = LoaderColumns(RequiredInputColumns(model, schema), inputCsv);
            CheckNumbers(inputCsv, loaderColumns);
            CheckImages(model, inputCsv, loaderColumns);
            // An empty numeric field is a missing value (NaN), never a silent 0: a row whose vector is all empty is a missing
            // modality, one with some empty fields an error naming its line.
            var data = ml.Data.CreateTextLoader(new TextLoader.Options
            {
                Columns = loaderColumns, Separators = new[] { ',' }, HasHeader = true, AllowQuoting = true, MissingRealsAsNaNs = true,
            }).Load(inputCsv);
            using var served = onnxRuntime ? ml.Model.WithOnnxRuntime(model, schema) : null;
            int rows;
            try { rows = WriteCsv((served ?? model).Transform(data), columns, partial); }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                var cause = Unwrap(ex);
                if (RowPosition(cause) is not long row)
                {
                    if (cause == ex) throw;
                    throw new InvalidDataException($"'{inputCsv}' could not be predicted: {cause.Message}" + (cause.Message.Contains("Hint:", StringComparison.Ordinal) ? "" :
                        Environment.NewLine + "Hint: check that the rows hold what the training CSV held in each column (paths that exist, numbers, text)."), cause);
                }
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

    /// <summary>
    /// The columns of <paramref name="inputSchema"/> that <paramref name="model"/> reads: a column is required when the
    /// model's output schema cannot be computed without it. A label or group column that the model only carried along
    /// (or a model file whose schema lists every column of the training CSV) is not required, so unlabelled rows serve.
    /// </summary>
    public static DataViewSchema RequiredInputColumns(ITransformer model, DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        var kept = inputSchema.Where(c => !c.IsHidden).ToList();
        foreach (var c in inputSchema.Where(c => !c.IsHidden).ToList())
        {
            var without = kept.Where(k => k.Name != c.Name).ToList();
            try { model.GetOutputSchema(Schema(without)); kept = without; }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or KeyNotFoundException or FormatException or NotSupportedException) { }
        }
        return Schema(kept);
    }

    private static DataViewSchema Schema(IEnumerable<DataViewSchema.Column> columns)
    {
        var b = new DataViewSchema.Builder();
        foreach (var c in columns) b.AddColumn(c.Name, c.Type, c.Annotations);
        return b.ToSchema();
    }

    /// <summary>
    /// Every image path the model will load must be there: ML.NET's image loader reports a missing file from a worker
    /// thread, and an empty path as a disposed object. The message names the CSV line, the column and the file.
    /// </summary>
    private static void CheckImages(ITransformer model, string csv, TextLoader.Column[] columns)
    {
        var loaders = Links(model).OfType<ImageLoadingTransformer>().ToList();
        if (loaders.Count == 0) return;
        var header = MLNetFusion.Data.CsvLine.Split(File.ReadLines(csv).First(), ',').Select(h => h.Trim()).ToArray();
        var checks = loaders.SelectMany(l => ImageInputColumns(l).Select(c => (column: c, folder: l.ImageFolder)))
            .Select(c => (c.column, c.folder, index: Array.IndexOf(header, c.column))).Where(c => c.index >= 0).ToList();
        if (checks.Count == 0) return;
        using var reader = new StreamReader(csv);
        reader.ReadLine();
        int lineNumber = 1;
        for (string? line = reader.ReadLine(); line != null; line = reader.ReadLine())
        {
            lineNumber++;
            var fields = MLNetFusion.Data.CsvLine.Split(line, ',');
            foreach (var (column, folder, index) in checks)
            {
                var value = index < fields.Length ? fields[index].Trim() : "";
                if (value.Length == 0)
                    throw new InvalidDataException($"'{csv}' line {lineNumber}, column '{column}': the image path is empty, and this model needs an image in every row." + Environment.NewLine +
                        "Hint: give the row an image file (a blank image if there is none), or leave the row out.");
                var full = Path.IsPathRooted(value) || string.IsNullOrEmpty(folder) ? Path.GetFullPath(value) : Path.GetFullPath(Path.Combine(folder, value));
                if (!File.Exists(full))
                    throw new FileNotFoundException($"'{csv}' line {lineNumber}, column '{column}': image file '{value}' does not exist (looked for '{full}')." + Environment.NewLine +
                        (string.IsNullOrEmpty(folder) ? "Hint: relative paths are resolved from the current folder; run from the folder the paths are relative to, or write absolute paths."
                            : $"Hint: relative paths are resolved against the model's image folder '{folder}' (the training data's folder); write absolute paths, or put the files there."), full);
            }
        }
    }

    /// <summary>
    /// ML.NET keeps a loader's column pairs in the protected field <c>OneToOneTransformerBase.ColumnPairs</c> and has no
    /// public accessor; <c>MLNetInternalsGuardTests</c> fails loudly if a new ML.NET version renames it. Without it the
    /// check is skipped and ML.NET's own error (unwrapped) is reported.
    /// </summary>
    internal static readonly System.Reflection.FieldInfo? ColumnPairsField =
        typeof(OneToOneTransformerBase).GetField("ColumnPairs", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance);

    /// <summary>The path columns an image loader reads.</summary>
    internal static IEnumerable<string> ImageInputColumns(ImageLoadingTransformer loader)
        => ColumnPairsField?.GetValue(loader) is (string outputColumnName, string inputColumnName)[] pairs ? pairs.Select(p => p.inputColumnName) : Array.Empty<string>();

    /// <summary>Every transformer of a (possibly nested) chain.</summary>
    private static IEnumerable<ITransformer> Links(ITransformer t)
    {
        yield return t;
        if (t is IEnumerable<ITransformer> chain)
            foreach (var link in chain)
                foreach (var inner in Links(link)) yield return inner;
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
        var header = MLNetFusion.Data.CsvLine.Split(reader.ReadLine() ?? "", ',');
        int lineNumber = 1;
        for (string? line = reader.ReadLine(); line != null; line = reader.ReadLine())
        {
            lineNumber++;
            var fields = MLNetFusion.Data.CsvLine.Split(line, ',');
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

    /// <summary>The header of <paramref name="csv"/> (quoted names unquoted, spaces trimmed).</summary>
    public static string[] ReadHeader(string csv)
        => MLNetFusion.Data.CsvLine.Split(File.ReadLines(csv).FirstOrDefault() ?? "", ',').Select(h => h.Trim()).ToArray();

    /// <summary>TextLoader columns for <paramref name="schema"/>, located by the CSV header.</summary>
    public static TextLoader.Column[] LoaderColumns(DataViewSchema schema, string csv)
    {
        var header = ReadHeader(csv);
        var missing = schema.Where(c => !c.IsHidden && c.Type is not VectorDataViewType && Array.IndexOf(header, c.Name) < 0).Select(c => c.Name).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"'{csv}' has no column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Select(m => $"'{m}'"))}, which the model reads (its columns: {string.Join(", ", header)})." +
                Environment.NewLine + "Hint: the CSV needs every input column the model reads (the label and the group are not needed), named as in the training CSV's header.");
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
            ? string.Join(",", SlotHeaders(c, v.Size)) : Quote(c.Name))));
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

    /// <summary>A vector column's headers: <c>name.&lt;slot name&gt;</c> when it has slot names (a Score column's classes), else <c>name.&lt;index&gt;</c>.</summary>
    private static IEnumerable<string> SlotHeaders(DataViewSchema.Column c, int size)
    {
        string[]? names = null;
        if (c.Annotations.Schema.GetColumnOrNull(AnnotationNames.SlotNames)?.Type is VectorDataViewType { ItemType: TextDataViewType } t && t.Size == size)
        {
            VBuffer<ReadOnlyMemory<char>> buffer = default;
            c.Annotations.GetValue(AnnotationNames.SlotNames, ref buffer);
            names = buffer.DenseValues().Select(m => m.ToString()).ToArray();
            if (names.Any(n => n.Length == 0) || names.Distinct().Count() != names.Length) names = null;
        }
        return Enumerable.Range(0, size).Select(i => Quote($"{c.Name}.{names?[i] ?? i.ToString(CultureInfo.InvariantCulture)}"));
    }

    private static string Quote(string field) => field.IndexOfAny(new[] { ',', '"', '\n', '\r' }) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";

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
                return sb => { g(ref key); sb.Append(Quote(values != null && key > 0 && key <= values.Length ? values[key - 1] : key.ToString(inv))); };
            };
        }
        if (c.Type == NumberDataViewType.Single)
            return row => { var g = row.GetGetter<float>(c); float v = 0; return sb => { g(ref v); sb.Append(v.ToString("R", inv)); }; };
        if (c.Type is TextDataViewType)
            return row => { var g = row.GetGetter<ReadOnlyMemory<char>>(c); ReadOnlyMemory<char> v = default; return sb => { g(ref v); sb.Append(Quote(v.ToString())); }; };
        if (c.Type is PrimitiveDataViewType && typeof(IFormattable).IsAssignableFrom(c.Type.RawType) || c.Type.RawType == typeof(bool))
            return (Func<DataViewRow, Action<StringBuilder>>)typeof(ModelServer).GetMethod(nameof(ScalarWriter), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(c.Type.RawType).Invoke(null, new object[] { c })!;
        throw new NotSupportedException($"Output column '{c.Name}' has type {c.Type}, which cannot be written to CSV." + Environment.NewLine +
            "Hint: pass --columns with number, Vector<Single>, key or text columns (e.g. PredictedLabel Score).");
    }

    private static Func<DataViewRow, Action<StringBuilder>> ScalarWriter<T>(DataViewSchema.Column c)
        => row => { var g = row.GetGetter<T>(c); T v = default!; return sb => { g(ref v); sb.Append(Convert.ToString(v, CultureInfo.InvariantCulture)); }; };
}
