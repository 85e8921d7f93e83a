using System.Globalization;
using Microsoft.ML.Data;
using MLNetFusion.Models;

namespace MLNetFusion.AutoML.Inference;

/// <summary>
/// Decides each CSV column's role from a sample of rows (see <see cref="ColumnInferenceOptions"/> for the thresholds):
/// <list type="number">
/// <item>roles the user gave win; the label and group columns are what the user named;</item>
/// <item>a column empty in every sampled row, or with one value in every row, is ignored;</item>
/// <item>a modality kind with a column inference (<see cref="IModalityColumnInference"/>) takes the columns it recognises:
///       the built-in image kind at least 90% of values ending in an image extension (.png .jpg .jpeg .bmp .gif .webp .tif .tiff),
///       audio at least 90% ending in .wav, and any kind a library registered; the kind then checks the first files and
///       infers its settings (<see cref="IModalityColumnInference.InferSettings"/>);</item>
/// <item>numbers: integers unique per row are an id (ignored); integers with few distinct values
///       (≤ <see cref="ColumnInferenceOptions.MaxIntegerCategories"/> and ≤ a fifth of the rows) are categories; the rest are numeric;</item>
/// <item>text: values unique per row without spaces are an id (ignored); values of three or more words on average are
///       free text; few distinct values (≤ <see cref="ColumnInferenceOptions.MaxTextCategories"/> and ≤ half the rows) are
///       categories; other multi-word values are text; other single words of high cardinality are ignored as identifiers.</item>
/// </list>
/// </summary>
internal static class ColumnInference
{
    public static ColumnInferenceResult Infer(string path, string labelColumnName, ColumnInferenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(labelColumnName);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var sample = CsvSample.Read(path, options.Separator, options.RowsToSample, labelColumnName);
        var header = sample.Header;
        int Require(string name, string what)
        {
            int i = Array.IndexOf(header, name);
            if (i < 0) throw new ArgumentException($"Could not find {what} column '{name}' in '{path}' (columns: {string.Join(", ", header)})." + Environment.NewLine +
                $"Hint: pass the {what} column's name as it appears in the header.");
            return i;
        }
        int label = Require(labelColumnName, "label");
        int group = options.GroupColumnName == null ? -1 : Require(options.GroupColumnName, "group");
        if (group == label) throw new ArgumentException($"'{labelColumnName}' cannot be both the label and the group column." + Environment.NewLine + "Hint: pass the column that identifies each row's group.");
        foreach (var name in options.Roles.Keys) Require(name, "role override");
        foreach (var name in options.Kinds.Keys) Require(name, "modality kind");
        var plugins = ModalityRegistry.Kinds.Where(k => k.ColumnInference != null).ToArray();

        var columns = new List<InferredColumn>();
        for (int i = 0; i < header.Length; i++)
        {
            var values = sample.Rows.Select(r => r[i].Trim()).ToList();
            ModalityKind? kind = null;
            var (role, reason) = i == label ? (ColumnRole.Label, "the label column you named")
                : i == group ? (ColumnRole.Group, "the group column you named: used to split, never a feature")
                : options.Kinds.TryGetValue(header[i], out var givenKind) ? (ColumnRole.Modality, $"given by you: {givenKind.Name}")
                : options.Roles.TryGetValue(header[i], out var given) ? (given, "given by you")
                : Recognize(header[i], values, plugins, out kind) ?? Decide(header[i], values, options);
            if (role == ColumnRole.Modality && kind == null) kind = options.Kinds[header[i]];
            var column = new InferredColumn(header[i], i, role, reason, values.Where(v => v.Length > 0).Distinct().Count(), values.Count(v => v.Length == 0))
                { Kind = kind, SampledValues = values, SampledLineNumbers = sample.LineNumbers };
            if (role == ColumnRole.Numeric && !options.Roles.ContainsKey(header[i]) && Skewness(values) is { } skew && skew.minimum > 0 && skew.skewness > 2)
            {
                column.LogTransform = true;
                column.Reason += $"; right-skewed (skewness {skew.skewness:F1}): log-transformed";
            }
            if (options.GroupColumnName == null && role is ColumnRole.Categorical or ColumnRole.NumericAndCategorical && LooksLikeGroup(header[i], values) is { } groupNote)
            {
                column.LooksLikeGroup = true;
                column.Reason += groupNote;
            }
            if (role == ColumnRole.Text)
                column.Reason += FusionFeaturizerBuilder.Usable(options.Pretrained, ModalityKind.Text) is { } pretrained
                    ? $"; encoder: {pretrained.Name} (frozen, then an MLP), with n-grams for linear models"
                    : "; encoder: hashed words into a trainable embedding bag, with n-grams for linear models";
            columns.Add(column);
        }
        var classes = LabelClasses(path, label, sample);
        var result = new ColumnInferenceResult(Path.GetFullPath(path), Path.GetFullPath(options.DataFolder ?? Path.GetDirectoryName(Path.GetFullPath(path))!),
            options.Separator, columns, labelColumnName, options.GroupColumnName, classes, sample.TotalRows, options);
        EnsureSettings(result);
        // Each modality column's encoder, once its settings are known (its kind decides the same way when featurizing).
        foreach (var c in result.Columns.Where(c => c.Role == ColumnRole.Modality && c.Kind != null))
            if (ModalityRegistry.Get(c.Kind!.Value).ColumnInference?.EncoderNote(ContextFor(result, c)) is { } note)
                c.Reason += "; encoder: " + note;
        return result;
    }

    /// <summary>Column names that say "this number is a code": id, code, zip, postal, postcode (as a word or a suffix such as CustomerId).</summary>
    private static readonly System.Text.RegularExpressions.Regex CodeName = new(
        @"(^|[^a-z])(id|ids|code|codes|zip|zipcode|postal|postcode)([^a-z]|$)|[a-z](Id|ID|Code|Zip)$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>Names of columns that say where a row comes from: who, where, which source or device.</summary>
    private static readonly System.Text.RegularExpressions.Regex GroupName = new(
        @"^(.*[^a-z])?(speaker|speakers|site|sites|source|subject|patient|participant|user|session|hospital|clinic|center|centre|store|shop|branch|device|" +
        @"camera|microphone|sensor|machine|plant|domain|batch|city|zip|zipcode|postcode|country|airline|author|client|customer|school|annotator|" +
        @"studio|vendor|supplier|household|farm|station)s?([^a-z].*)?$",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant | System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    /// <summary>
    /// The note for a category that looks like a group: its name says where rows come from, and it has 2 to 200 values
    /// with at least 5 rows per value on average. <c>null</c> otherwise.
    /// </summary>
    private static string? LooksLikeGroup(string name, List<string> values)
    {
        var counts = values.Where(v => v.Length > 0).GroupBy(v => v, StringComparer.Ordinal).Select(g => g.Count()).ToList();
        if (counts.Count < 2 || counts.Count > 200 || counts.Sum() < 5 * counts.Count || !GroupName.IsMatch(SplitWords(name))) return null;
        return $"; looks like where rows come from ({counts.Count} values, {counts.Min()}-{counts.Max()} sampled rows each): if new rows will come from other " +
            $"values, validation on these rows cannot see that shift; pass --group {name} to select by leave-one-group-out";
    }

    // "SpeakerId" → "speaker id", "recording_site" → "recording site": the group names match as words.
    private static string SplitWords(string name)
        => System.Text.RegularExpressions.Regex.Replace(System.Text.RegularExpressions.Regex.Replace(name, "([a-z])([A-Z])", "$1 $2"), "[^A-Za-z]+", " ").Trim();

    /// <summary>The first kind (by name) that recognises a column which is neither empty nor constant, or <c>null</c>.</summary>
    private static (ColumnRole, string)? Recognize(string name, List<string> values, IModalityKind[] kinds, out ModalityKind? kind)
    {
        kind = null;
        var present = values.Where(v => v.Length > 0).ToList();
        if (kinds.Length == 0 || present.Count == 0 || (present.Distinct().Count() == 1 && present.Count == values.Count)) return null;
        foreach (var k in kinds)
            if (k.ColumnInference!.Recognize(name, values) is { } why)
            {
                kind = k.Kind;
                return (ColumnRole.Modality, why);
            }
        return null;
    }

    private static (ColumnRole, string) Decide(string name, List<string> values, ColumnInferenceOptions o)
    {
        int n = values.Count;
        var present = values.Where(v => v.Length > 0).ToList();
        if (present.Count == 0) return (ColumnRole.Ignored, $"empty in all {n} sampled rows");
        var distinct = present.Distinct().Count();
        if (distinct == 1 && present.Count == n) return (ColumnRole.Ignored, $"constant ('{CsvSample.Shorten(present[0])}')");
        int empty = n - present.Count;
        string emptyNote = empty > 0 ? $"; {empty} of {n} sampled rows empty" : "";
        bool repeats = distinct <= present.Count / 2;   // on average every value appears at least twice
        string cardinality = distinct > o.MaxOneHotCategories ? $", hashed to {1 << ColumnInferenceOptions.Defaults.HashBits} slots (more than {o.MaxOneHotCategories} values)" : ", one-hot";
        var numbers = present.Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : (double?)null).ToList();
        if (numbers.All(d => d.HasValue))
        {
            bool integers = numbers.All(d => Math.Abs(d!.Value - Math.Round(d.Value)) < 1e-9);
            if (integers && distinct == n) return (ColumnRole.Ignored, "integers unique per row: an id");
            if (integers && distinct <= o.MaxIntegerCategories && distinct <= Math.Max(2, n / 5))
                return (ColumnRole.Categorical, $"integers with {distinct} distinct values: categories, one-hot" + emptyNote);
            if (integers && repeats)
            {
                // Codes: their order means nothing (a zip code, a store or customer id that repeats).
                bool leadingZeros = present.Any(v => v.Length > 1 && v[0] == '0' && char.IsDigit(v[1]));
                bool codeName = CodeName.IsMatch(name);
                if (leadingZeros || codeName)
                    return (ColumnRole.Categorical, $"integer codes ({distinct} distinct values that repeat; {(leadingZeros ? "leading zeros" : $"the name '{name}'")}): categories{cardinality}" + emptyNote);
                var widths = present.Select(v => v.TrimStart('-').Length).Distinct().ToList();
                if (widths.Count == 1 && widths[0] >= 3)
                    return (ColumnRole.NumericAndCategorical, $"{widths[0]}-digit integers with {distinct} distinct values that repeat, like a zip code: a category{cardinality}, and also a number" + emptyNote);
            }
            return (ColumnRole.Numeric, (integers ? $"integers with {distinct} distinct values" : "numbers") + emptyNote + (empty > 0 ? ": replaced by the column mean, with a missing-value indicator" : ""));
        }
        double words = present.Average(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        if (distinct == n && words < 2) return (ColumnRole.Ignored, "values unique per row: an id");
        // Few values, each repeated many times, are categories even when they have several words ("Eastern Time (US & Canada)").
        if (distinct <= o.MaxTextCategories && distinct <= Math.Max(2, present.Count / 5))
            return (ColumnRole.Categorical, $"{distinct} distinct values, each repeated ({present.Count / (double)distinct:F0} rows per value on average): categories{cardinality}" + emptyNote);
        if (words >= 3) return (ColumnRole.Text, $"free text ({words:F1} words on average, {distinct} distinct values)");
        if (distinct <= o.MaxTextCategories && distinct <= Math.Max(2, n / 2)) return (ColumnRole.Categorical, $"{distinct} distinct values: categories{cardinality}" + emptyNote);
        if (repeats && words < 3) return (ColumnRole.Categorical, $"{distinct} distinct short values that repeat: categories{cardinality}" + emptyNote);
        if (words >= 2) return (ColumnRole.Text, $"text ({words:F1} words on average, {distinct} distinct values)");
        return (ColumnRole.Ignored, $"{distinct} distinct single words in {n} rows, mostly unique: an identifier, not a category");
    }

    /// <summary>The sample skewness and minimum of a column's numbers, or <c>null</c> when it has fewer than 10.</summary>
    private static (double skewness, double minimum)? Skewness(List<string> values)
    {
        var xs = values.Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN).Where(double.IsFinite).ToList();
        if (xs.Count < 10) return null;
        double mean = xs.Average(), m2 = xs.Average(x => (x - mean) * (x - mean)), m3 = xs.Average(x => (x - mean) * (x - mean) * (x - mean));
        return (m2 > 0 ? m3 / Math.Pow(m2, 1.5) : 0, xs.Min());
    }

    /// <summary>The label's classes over the whole file (read in the sampling pass); one class is an error naming the file and column.</summary>
    private static IReadOnlyList<string> LabelClasses(string path, int label, CsvSample sample)
    {
        var classes = sample.Classes;
        if (classes.Count < 2)
            throw new InvalidDataException($"The label column '{sample.Header[label]}' of '{path}' has {(classes.Count == 0 ? "no values" : $"a single class ('{classes[0]}')")} in {sample.TotalRows} rows: a classifier needs at least two classes." +
                Environment.NewLine + "Hint: check the label column's name, or add rows of the other classes.");
        return SortClasses(classes);
    }

    /// <summary>Class values sorted as a reader expects: numerically when every value is a number ("2" before "10"), else ordinally.</summary>
    internal static IReadOnlyList<string> SortClasses(IEnumerable<string> classes)
    {
        var list = classes.ToList();
        var numbers = list.Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : (double?)null).ToList();
        return numbers.All(d => d.HasValue)
            ? list.Zip(numbers).OrderBy(p => p.Second!.Value).ThenBy(p => p.First, StringComparer.Ordinal).Select(p => p.First).ToArray()
            : list.OrderBy(v => v, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Infers the settings of every modality column whose kind has any and that has none yet (its kind checks the first files).</summary>
    internal static void EnsureSettings(ColumnInferenceResult result)
    {
        foreach (var c in result.Columns.Where(c => c.Role == ColumnRole.Modality && c.Kind != null && !result.Settings.ContainsKey(c.Name)))
            if (ModalityRegistry.Get(c.Kind!.Value).ColumnInference?.InferSettings(ContextFor(result, c)) is { } settings)
                result.Settings[c.Name] = settings;
    }

    /// <summary>What a column's kind is told about it: its values and lines, the folder, its settings and the options of its kind.</summary>
    internal static ModalityColumnContext ContextFor(ColumnInferenceResult result, InferredColumn c, string? outputColumnName = null)
        => new(c.Name, outputColumnName ?? c.Name + "." + c.Kind?.Name, result.DataFolder, c.SampledValues)
        {
            SourcePath = result.Path,
            SampledLineNumbers = c.SampledLineNumbers,
            FilesToDecode = result.Options.FilesToDecode,
            Options = c.Kind is { } kind ? result.Options.KindOptions.GetValueOrDefault(kind) : null,
            Settings = result.Settings.GetValueOrDefault(c.Name),
            UsePretrained = result.Options.Pretrained,
            PretrainedProgress = result.Options.PretrainedProgress,
        };
}
