using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Serving;
using MLNetFusion.Trainers.Evaluation;
using Spectre.Console;

namespace MLNetFusion.Cli.Evaluation;

/// <summary>
/// <c>mlnetfusion evaluate</c>: loads a saved model, scores a labelled CSV and prints the modality report (metrics per
/// modality subset, importance hidden and permuted, calibration, per-group metrics), with a JSON file and a PNG chart.
/// </summary>
public static class EvaluateJob
{
    /// <summary>Runs the report and prints it.</summary>
    /// <param name="modelPath">A file written by <c>SaveFusionModel</c> with its input schema.</param>
    /// <param name="dataCsv">Labelled rows with the model's input columns (a header line).</param>
    /// <param name="groupColumn">Optional group column of the CSV.</param>
    /// <param name="jsonPath">Where to write the report as JSON, or <c>null</c>.</param>
    /// <param name="chartPath">Where to write the PNG, or <c>null</c>.</param>
    /// <param name="labelColumn">The label column.</param>
    /// <param name="modalityColumns">Modality columns, or <c>null</c> for the fusion model's own.</param>
    /// <param name="permutations">Shuffles per modality.</param>
    public static ModalityReport Run(string modelPath, string dataCsv, string? groupColumn, string? jsonPath, string? chartPath, string labelColumn = "Label",
        IReadOnlyList<string>? modalityColumns = null, int permutations = ModalityReportOptions.Defaults.PermutationCount)
    {
        if (!File.Exists(dataCsv)) throw new FileNotFoundException($"Data file '{dataCsv}' does not exist." + Environment.NewLine + "Hint: pass --data with a CSV of labelled rows.", dataCsv);
        var ml = new MLContext(seed: 1);
        var model = ml.Model.LoadFusionModel(modelPath, out var schema);
        try
        {
            if (schema == null) throw new InvalidOperationException($"Model '{modelPath}' was saved without its input schema." + Environment.NewLine + "Hint: pass data.Schema to SaveFusionModel.");
            var required = ModelServer.RequiredInputColumns(model, schema);
            var columns = ModelServer.LoaderColumns(required, dataCsv).ToList();
            var header = ModelServer.ReadHeader(dataCsv);
            foreach (var (name, what, hint) in new[] { (labelColumn, "label", "--label names the CSV column that holds each row's class."),
                         (groupColumn, "group", "--group names the CSV column that identifies each row's group (speaker, site).") })
            {
                if (name == null || columns.Any(c => c.Name == name)) continue;
                int i = Array.IndexOf(header, name);
                if (i < 0) throw new InvalidOperationException($"'{dataCsv}' has no {what} column '{name}' (columns: {string.Join(", ", header)})." + Environment.NewLine + "Hint: " + hint);
                columns.Add(new TextLoader.Column(name, DataKind.String, i));
            }
            IDataView data = ml.Data.LoadFromTextFile(dataCsv, columns.ToArray(), separatorChar: ',', hasHeader: true, allowQuoting: true);
            if (required.GetColumnOrNull(labelColumn) == null)
            {
                // The model does not map the label itself (mlnetfusion fit keeps the label out of the model so it serves
                // unlabelled rows): map it to the key of the model's classes, in the order of its Score slots.
                var classes = ClassesOf(model, data.Schema);
                var keys = ml.Data.LoadFromEnumerable(classes.Select(c => new ClassValue { Value = c }));
                data = ml.Transforms.Conversion.MapValueToKey(labelColumn, labelColumn, keyData: keys).Fit(data).Transform(data);
            }
            using var line = new MLNetFusion.Cli.Progress.ProgressLine("evaluate " + Path.GetFileName(modelPath));
            var report = ml.MulticlassClassification.EvaluateModalities(model, data, new ModalityReportOptions
            {
                LabelColumnName = labelColumn, GroupColumnName = groupColumn, ModalityColumnNames = modalityColumns is { Count: > 0 } ? modalityColumns : null,
                PermutationCount = permutations,
                Progress = (done, total, what) => line.Report(done / (double)total, $"{what} ({done + 1}/{total})"),
            });
            line.Dispose();
            Print(report, modelPath, dataCsv);
            if (jsonPath != null)
            {
                WriteJson(jsonPath, report);
                AnsiConsole.MarkupLine($"Report JSON written to [blue]{Markup.Escape(Path.GetFullPath(jsonPath))}[/].");
            }
            if (chartPath != null)
            {
                ModalityReportChart.Write(chartPath, $"Modality report: {Path.GetFileName(modelPath)} on {Path.GetFileName(dataCsv)}", report);
                AnsiConsole.MarkupLine($"Chart written to [blue]{Markup.Escape(Path.GetFullPath(chartPath))}[/].");
            }
            return report;
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    private sealed class ClassValue { public string Value { get; set; } = ""; }

    /// <summary>The model's classes: the slot names of its <c>Score</c> column.</summary>
    private static string[] ClassesOf(ITransformer model, DataViewSchema input)
    {
        var score = model.GetOutputSchema(input).GetColumnOrNull("Score")
            ?? throw new InvalidOperationException("The model has no Score column, so its classes are unknown." + Environment.NewLine + "Hint: evaluate a model that ends in a multiclass trainer.");
        if (score.Annotations.Schema.GetColumnOrNull("SlotNames") == null)
            throw new InvalidOperationException("The model's Score column has no slot names, so its classes are unknown." + Environment.NewLine +
                "Hint: map the label to a key inside the pipeline (MapValueToKey) before the trainer, or train with mlnetfusion fit.");
        VBuffer<ReadOnlyMemory<char>> names = default;
        score.GetSlotNames(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    private static string Pct(double v) => double.IsFinite(v) ? $"{v:P1}" : "—";
    private static string Num(double v, string f = "F3") => double.IsFinite(v) ? v.ToString(f) : "—";

    /// <summary>Prints the report as tables.</summary>
    public static void Print(ModalityReport r, string model, string data)
    {
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 120);
        AnsiConsole.MarkupLine($"[bold]Modality report[/] of [blue]{Markup.Escape(model)}[/] on [blue]{Markup.Escape(data)}[/]: {r.Overall.Rows} rows.");
        var subsets = new Table().Title("Metrics by modalities present (the others hidden as missing)").AddColumns("modalities present", "accuracy", "macro-accuracy", "macro-F1", "log-loss", "note");
        foreach (var s in r.Subsets)
            subsets.AddRow(Markup.Escape(string.Join(" + ", s.Modalities)), Pct(s.Metrics?.Accuracy ?? double.NaN), Pct(s.Metrics?.MacroAccuracy ?? double.NaN),
                Num(s.Metrics?.MacroF1 ?? double.NaN), Num(s.Metrics?.LogLoss ?? double.NaN),
                Markup.Escape(s.Error ?? (s.Metrics is { NonFiniteScoreRows: > 0 } m ? $"{m.NonFiniteScoreRows} rows scored non-finite" : "")));
        AnsiConsole.Write(subsets);
        var importance = new Table().Title("Importance: accuracy drop when the modality is hidden, and when it is shuffled across rows").AddColumns(
            "modality", "drop when hidden", "drop when permuted (mean ± sd)", "log-loss increase when hidden", "log-loss increase when permuted");
        foreach (var i in r.Importance)
            importance.AddRow(Markup.Escape(i.Modality), Num(i.AccuracyDropWhenHidden), $"{Num(i.AccuracyDropWhenPermuted)} ± {Num(i.AccuracyDropWhenPermutedStdDev)} ({i.Permutations}×)",
                Num(i.LogLossIncreaseWhenHidden), $"{Num(i.LogLossIncreaseWhenPermuted)} ± {Num(i.LogLossIncreaseWhenPermutedStdDev)}");
        AnsiConsole.Write(importance);
        AnsiConsole.MarkupLine(Markup.Escape($"Calibration: expected calibration error {Num(r.Calibration.ExpectedCalibrationError, "F4")} over {r.Calibration.Bins.Count} bins " +
            $"(non-empty: {string.Join(", ", r.Calibration.Bins.Where(b => b.Count > 0).Select(b => $"({b.Lower:F2}, {b.Upper:F2}] n={b.Count} conf {b.MeanConfidence:F2} acc {b.Accuracy:F2}"))})."));
        if (r.Groups is { } g)
        {
            var groups = new Table().Title(Markup.Escape($"Per group of '{g.ColumnName}'")).AddColumns("group", "rows", "accuracy", "macro-F1", "log-loss");
            foreach (var x in g.Groups.OrderBy(x => x.Metrics.Accuracy))
                groups.AddRow(Markup.Escape(x.Group), x.Metrics.Rows.ToString(), Pct(x.Metrics.Accuracy), Num(x.Metrics.MacroF1), Num(x.Metrics.LogLoss));
            AnsiConsole.Write(groups);
            AnsiConsole.MarkupLine(Markup.Escape($"Worst group '{g.Worst.Group}' {g.Worst.Metrics.Accuracy:P1}; mean {g.MeanAccuracy:P1}, sd {g.AccuracyStdDev:P1}, spread {g.AccuracySpread:P1}."));
        }
    }

    /// <summary>
    /// Writes the report as JSON (snake_case fields; NaN as null): <c>modalities</c>, <c>overall</c>, <c>subsets</c>,
    /// <c>importance</c>, <c>calibration</c>, <c>groups</c>.
    /// </summary>
    public static void WriteJson(string path, ModalityReport r)
    {
        var options = new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        options.Converters.Add(new NonFiniteAsNull());
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, JsonSerializer.Serialize(new { r.Modalities, r.Overall, r.Subsets, r.Importance, r.Calibration, r.Groups }, options));
    }

    private sealed class NonFiniteAsNull : System.Text.Json.Serialization.JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
            => reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();
        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value); else writer.WriteNullValue();
        }
    }
}
