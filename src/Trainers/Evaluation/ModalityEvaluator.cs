using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Trainers.LateFusion;

namespace MLNetFusion.Trainers.Evaluation;

/// <summary>Options of <c>mlContext.MulticlassClassification.EvaluateModalities</c>.</summary>
public sealed class ModalityReportOptions
{
    /// <summary>Default values, reused by the catalog signature.</summary>
    public static class Defaults
    {
        /// <summary>Shuffles per modality for permutation importance.</summary>
        public const int PermutationCount = 5;
        /// <summary>Equal-width bins of the reliability diagram and ECE.</summary>
        public const int CalibrationBins = 15;
        /// <summary>Above this many modalities only singles, leave-one-out subsets and the full set are evaluated (2^M − 1 passes otherwise).</summary>
        public const int MaximumModalitiesForAllSubsets = 8;
    }

    /// <summary>
    /// The modality columns to hide and permute. <c>null</c> (the default) finds the last MLNetFusion fusion transformer
    /// in the model (neural family or late fusion) and uses its input columns; give them for any other model, such as
    /// early fusion (<c>Concatenate</c> + a trainer). A column may be produced inside the model (the report then hides
    /// it right where it is produced) or be an input column of the data: a float vector or number (hidden as NaN) or
    /// text such as a file path (hidden as empty text, which <c>LoadAudio</c> reads as a missing clip).
    /// </summary>
    public IReadOnlyList<string>? ModalityColumnNames { get; set; }

    /// <summary>The key-typed label column (at the model's output). Default <c>Label</c>.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The model's score column (class probabilities). Default <c>Score</c>.</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>A column of the data naming each row's group (speaker, site, patient): metrics per group, the worst group and the spread. Default <c>null</c>.</summary>
    public string? GroupColumnName { get; set; }

    /// <summary>Shuffles per modality for permutation importance (1 to 100). Default 5.</summary>
    public int PermutationCount { get; set; } = Defaults.PermutationCount;

    /// <summary>Equal-width bins for calibration (2 to 1000). Default 15.</summary>
    public int CalibrationBins { get; set; } = Defaults.CalibrationBins;

    /// <summary>Seed of the shuffles. Default 0 (the report is deterministic for a model and data).</summary>
    public int Seed { get; set; }

    /// <summary>Called before each scoring pass with the passes done, the passes in all and what is scored (e.g. <c>subset image + audio</c>). Default <c>null</c>.</summary>
    public Action<int, int, string>? Progress { get; set; }

    internal void Validate()
    {
        if (PermutationCount < 1 || PermutationCount > 100)
            throw new ArgumentOutOfRangeException(nameof(PermutationCount), PermutationCount, "PermutationCount must be in [1, 100].");
        if (CalibrationBins < 2 || CalibrationBins > 1000)
            throw new ArgumentOutOfRangeException(nameof(CalibrationBins), CalibrationBins, "CalibrationBins must be in [2, 1000].");
        if (string.IsNullOrEmpty(LabelColumnName)) throw new ArgumentException("LabelColumnName is empty.", nameof(LabelColumnName));
        if (string.IsNullOrEmpty(ScoreColumnName)) throw new ArgumentException("ScoreColumnName is empty.", nameof(ScoreColumnName));
        if (ModalityColumnNames is { } m && (m.Count == 0 || m.Distinct().Count() != m.Count))
            throw new ArgumentException("ModalityColumnNames must list at least one column, each once." + Environment.NewLine +
                "Hint: leave it null to use the fusion model's own modality columns.", nameof(ModalityColumnNames));
    }
}

/// <summary>Computes a <see cref="ModalityReport"/>: the model scored with modalities hidden, permuted, and per group.</summary>
internal static class ModalityEvaluator
{
    public static ModalityReport Evaluate(ITransformer model, IDataView data, ModalityReportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var (prefix, suffix, columns, display) = Locate(model, data.Schema, options.ModalityColumnNames);
        var prefixed = prefix.Transform(data);
        if (prefixed.Schema.All(c => c.Type is PrimitiveDataViewType || c.Type is VectorDataViewType { ItemType: PrimitiveDataViewType }))
            prefixed = new MLContext(options.Seed).Data.Cache(prefixed);   // featurize once for every scoring pass
        foreach (var c in columns) ModalityColumn.Hide(prefixed.Schema, c);  // checks every column's type up front

        int passes = 1 + Subsets(columns.Count).Count() - 1 + columns.Count * options.PermutationCount, done = 0;
        ScoredRows Score(string what, params ITransformer[] replacements)
        {
            options.Progress?.Invoke(done++, passes, what);
            var view = prefixed;
            foreach (var r in replacements) view = r.Transform(view);
            return ScoredRows.Read(suffix.Transform(view), options.LabelColumnName, options.ScoreColumnName);
        }

        var full = Score("every modality");
        var overall = full.Metrics();

        // Every non-empty subset, the others hidden as missing.
        var subsets = new List<ModalitySubsetMetrics>();
        foreach (var present in Subsets(columns.Count))
        {
            var names = present.Select(i => display[i]).ToArray();
            if (names.Length == columns.Count) { subsets.Add(new ModalitySubsetMetrics(names, overall)); continue; }
            try
            {
                var hidden = Enumerable.Range(0, columns.Count).Where(i => !present.Contains(i)).Select(i => ModalityColumn.Hide(prefixed.Schema, columns[i])).ToArray();
                subsets.Add(new ModalitySubsetMetrics(names, Score("subset " + string.Join(" + ", names), hidden).Metrics()));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
            {
                subsets.Add(new ModalitySubsetMetrics(names, null, Innermost(ex).Message));
            }
        }

        // Importance: hidden (the subset without it) and permuted across rows.
        var importance = new List<ModalityImportance>();
        int rows = full.Labels.Length;
        var random = new Random(options.Seed);
        for (int i = 0; i < columns.Count; i++)
        {
            double accHidden = double.NaN, llHidden = double.NaN;
            if (columns.Count > 1)
            {
                var without = subsets.FirstOrDefault(s => s.Modalities.Count == columns.Count - 1 && !s.Modalities.Contains(display[i]));
                if (without?.Metrics is { } wm) { accHidden = overall.Accuracy - wm.Accuracy; llHidden = wm.LogLoss - overall.LogLoss; }
            }
            var accDrops = new List<double>(); var llIncreases = new List<double>();
            var permute = ModalityColumn.Permuter(prefixed, columns[i]);
            for (int rep = 0; rep < options.PermutationCount; rep++)
            {
                var perm = SeededShuffle.Permutation(rows, random);
                var m = Score($"{display[i]} permuted ({rep + 1}/{options.PermutationCount})", permute(perm)).Metrics();
                accDrops.Add(overall.Accuracy - m.Accuracy); llIncreases.Add(m.LogLoss - overall.LogLoss);
            }
            importance.Add(new ModalityImportance(display[i], accHidden, llHidden, accDrops.Average(), StdDev(accDrops), llIncreases.Average(), StdDev(llIncreases), options.PermutationCount));
        }

        GroupReport? groups = null;
        if (options.GroupColumnName != null)
        {
            var g = SamplingKeyGroups.Read(data, options.GroupColumnName);
            if (g.RowCount != rows)
                throw new InvalidOperationException($"The group column '{options.GroupColumnName}' has {g.RowCount} rows but the model scored {rows}." + Environment.NewLine +
                    "Hint: per-group metrics need a model that keeps every row (no row filters inside the model).");
            var per = Enumerable.Range(0, g.Count).Select(k => new GroupMetrics(g.GroupNames[k], full.Metrics(r => g.GroupOfRow[r] == k)))
                .Where(x => x.Metrics.Rows > 0).ToList();
            var accs = per.Select(x => x.Metrics.Accuracy).ToList();
            double mean = accs.Average();
            groups = new GroupReport(options.GroupColumnName, per, per.MinBy(x => x.Metrics.Accuracy)!, mean,
                Math.Sqrt(accs.Average(a => (a - mean) * (a - mean))), accs.Max() - accs.Min());
        }
        return new ModalityReport(display, overall, subsets, importance, full.Calibration(options.CalibrationBins), groups);
    }

    /// <summary>
    /// Non-empty subsets as index sets: the full set first, then by decreasing size and, within a size, in the order of
    /// the modalities ({0,1} before {0,2} before {1,2}). Above the limit: full, leave-one-out and singles.
    /// </summary>
    internal static IEnumerable<int[]> Subsets(int m)
    {
        var all = new List<int[]>();
        if (m <= ModalityReportOptions.Defaults.MaximumModalitiesForAllSubsets)
        {
            for (int mask = (1 << m) - 1; mask > 0; mask--)
                all.Add(Enumerable.Range(0, m).Where(i => (mask & (1 << i)) != 0).ToArray());
        }
        else
        {
            all.Add(Enumerable.Range(0, m).ToArray());
            for (int i = 0; i < m; i++) all.Add(Enumerable.Range(0, m).Where(j => j != i).ToArray());
            for (int i = 0; i < m; i++) all.Add(new[] { i });
        }
        return all.OrderByDescending(s => s.Length).ThenBy(s => s, Comparer<int[]>.Create((a, b) =>
        {
            for (int i = 0; i < Math.Min(a.Length, b.Length); i++) if (a[i] != b[i]) return a[i].CompareTo(b[i]);
            return a.Length.CompareTo(b.Length);
        }));
    }

    /// <summary>
    /// Splits the model where its modality columns are: links before (featurization) and from there on; also returns
    /// each modality's name as its model calls it (a fusion network's modality names, late fusion's member names; the
    /// column names when the caller named the columns), which the report uses.
    /// </summary>
    internal static (ITransformer prefix, ITransformer suffix, IReadOnlyList<string> columns, IReadOnlyList<string> names) Locate(ITransformer model, DataViewSchema input, IReadOnlyList<string>? columns)
    {
        var links = Flatten(model).ToList();
        if (columns == null)
        {
            for (int i = links.Count - 1; i >= 0; i--)
            {
                (IReadOnlyList<string> columns, IReadOnlyList<string> names)? found = links[i] switch
                {
                    FusionPredictionTransformer f => (f.Layout.Columns, f.Encoders.Select(e => e.Name).ToArray()),
                    LateFusionTransformer l => (l.MemberFeatureColumns, l.MemberNames),
                    _ => null,
                };
                if (found is { } x)
                {
                    var names = x.names.Count == x.columns.Count && x.names.Distinct().Count() == x.names.Count ? x.names : x.columns;
                    return (Chain(links.Take(i)), Chain(links.Skip(i)), x.columns.ToArray(), names.ToArray());
                }
            }
            throw new ArgumentException(
                "The model holds no MLNetFusion fusion transformer (merge, network, cross-modal, FusionMlp or late fusion) whose modality columns could be found." +
                Environment.NewLine + "Hint: pass the modality columns, e.g. new ModalityReportOptions { ModalityColumnNames = new[] { \"Pixels\", \"LogMel\" } } " +
                "(for early fusion, the columns given to Concatenate).", nameof(model));
        }
        var schema = input;
        for (int k = 0; ; k++)
        {
            if (columns.All(c => schema.GetColumnOrNull(c) is { IsHidden: false })) return (Chain(links.Take(k)), Chain(links.Skip(k)), columns.ToArray(), columns.ToArray());
            if (k == links.Count) break;
            schema = links[k].GetOutputSchema(schema);
        }
        var missing = columns.First(c => schema.GetColumnOrNull(c) is null);
        throw new ArgumentOutOfRangeException(nameof(columns),
            $"Could not find modality column '{missing}' in the data or anywhere along the model." + Environment.NewLine +
            "Hint: name a column of the data or one the model produces (for example the output of ExtractPixels or MelSpectrogram).");
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer t)
        => t is IEnumerable<ITransformer> links && t.GetType().IsGenericType && t.GetType().GetGenericTypeDefinition() == typeof(TransformerChain<>)
            ? links.SelectMany(Flatten) : new[] { t };

    private static ITransformer Chain(IEnumerable<ITransformer> links) => new TransformerChain<ITransformer>(links.ToArray());

    private static double StdDev(IReadOnlyList<double> xs)
    {
        if (xs.Count < 2) return 0;
        double mean = xs.Average();
        return Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1));
    }

    private static Exception Innermost(Exception ex) { while (ex.InnerException != null) ex = ex.InnerException; return ex; }
}
