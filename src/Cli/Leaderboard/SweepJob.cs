using MLNetFusion.Trainers;
using Microsoft.ML;
using MLNetFusion.Datasets;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Training;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>What a sweep run produced: the experiment result and the refitted model's test metrics.</summary>
/// <param name="Result">The experiment's result.</param>
/// <param name="TestAccuracy">The refitted model's accuracy on the test split.</param>
/// <param name="TestMacroF1">Its macro-F1.</param>
/// <param name="Experiment">The experiment (to rebuild a trial's estimator with <see cref="FusionExperiment.CreateEstimator"/>).</param>
public sealed record SweepOutcome(FusionExperimentResult Result, double TestAccuracy, double TestMacroF1, FusionExperiment Experiment);

/// <summary>
/// <c>mlnetfusion sweep</c>: featurize once, hold out 20% of the training rows for validation, sweep every fusion family
/// with the cost-aware tuner within a time budget (leaderboard shown live), refit the best on all training rows, report
/// its test accuracy and write a chart of the metric against time per family.
/// </summary>
public static class SweepJob
{
    /// <summary>Tuner names accepted on the command line.</summary>
    public static IFusionTuner Tuner(string name) => name switch
    {
        "cost-aware" => new SuccessiveHalvingTuner(),
        "random" => new RandomSearchTuner(),
        "grid" => new GridSearchTuner(),
        _ => throw new ArgumentException($"Unknown tuner '{name}'. Hint: use cost-aware, random or grid."),
    };

    /// <summary>Runs the sweep with a live display and returns the outcome.</summary>
    public static SweepOutcome Run(MultimodalDataset ds, TimeSpan budget, int? maxTrials, IFusionTuner tuner, int seed, string chartPath, string title,
        int folds = 0, string? jsonPath = null, bool grouped = false)
    {
        var ml = new MLContext(seed: seed);
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 140);
        AnsiConsole.Write(MainJob.RolesTable(ds));
        AnsiConsole.MarkupLine($"[bold]MLNetFusion sweep[/] on [blue]{Markup.Escape(ds.Folder)}[/]: budget {budget.TotalMinutes:F1} min, tuner {tuner.GetType().Name}, seed {seed}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IDataView train = null!, test = null!;
        AnsiConsole.Status().Start("Featurizing…", _ => { (train, test, var _) = ds.Featurize(ml); train.Preview(1); });
        AnsiConsole.MarkupLine($"Featurized in {clock.Elapsed.TotalSeconds:F1}s.");
        var monitor = new LiveMonitor(title);
        SweepOutcome outcome = null!;
        AnsiConsole.Live(monitor.Render()).AutoClear(false).Start(ctx =>
        {
            monitor.Refresh = () => { ctx.UpdateTarget(monitor.Render()); ctx.Refresh(); };
            outcome = Search(ml, ds, train, test, budget, maxTrials, tuner, seed, monitor, folds, grouped);
            monitor.Status = "done";
            monitor.Refresh();
        });
        var result = outcome.Result;
        var best = result.BestTrial;
        AnsiConsole.MarkupLine($"Best: [green]{Markup.Escape(best.Settings.ToString())}[/] — validation accuracy {best.Accuracy:P1}" +
            Markup.Escape(grouped ? $" on groups of '{ds.GroupColumn}' it did not train on." : ".") +
            (best.Settings.Modalities is { } mods ? Markup.Escape($" Modalities used: {string.Join(", ", mods)}.") : ""));
        AnsiConsole.MarkupLine($"Refitted on all training rows: [bold]test accuracy {outcome.TestAccuracy:P1}[/], macro-F1 {outcome.TestMacroF1:F3}. " +
            $"{result.Trials.Count} trials, {result.TotalEpochs} epochs, {result.Elapsed.TotalSeconds:F0}s.");
        SweepChart.Write(chartPath, title, result.Trials);
        if (jsonPath != null)
        {
            WriteJson(jsonPath, outcome);
            AnsiConsole.MarkupLine($"Sweep JSON written to [blue]{Markup.Escape(Path.GetFullPath(jsonPath))}[/].");
        }
        AnsiConsole.MarkupLine($"Chart written to [blue]{Markup.Escape(Path.GetFullPath(chartPath))}[/].");
        return outcome;
    }

    /// <summary>
    /// The search itself on featurized data, then the best refitted on all of <paramref name="train"/> and evaluated on
    /// <paramref name="test"/>. Validation: with <paramref name="folds"/> &gt; 1, k-fold cross-validation; else a 20%
    /// hold-out. With <paramref name="grouped"/>, both are made of whole groups of the dataset's group column, so every
    /// trial is judged on groups it did not train on.
    /// </summary>
    public static SweepOutcome Search(MLContext ml, MultimodalDataset ds, IDataView train, IDataView test, TimeSpan budget, int? maxTrials,
        IFusionTuner tuner, int seed, IFusionMonitor? monitor = null, int folds = 0, bool grouped = false)
    {
        if (grouped && ds.GroupColumn == null) throw new InvalidOperationException("A grouped sweep needs a group column." + Environment.NewLine + "Hint: pass --group COLUMN.");
        var experiment = ml.Fusion().CreateExperiment();
        if (folds > 1) experiment.SetDataset(train, folds, grouped ? ds.GroupColumn : null);
        else if (grouped) experiment.SetDataset(train, 0.2, ds.GroupColumn!);
        else
        {
            var split = ml.Data.TrainTestSplit(train, testFraction: 0.2, seed: seed);
            experiment.SetDataset(split.TrainSet, split.TestSet);
        }
        experiment
            .SetModalities(ds.Modalities().ToArray())
            .SetMulticlassClassificationMetric(FusionMetric.Accuracy, ds.LabelColumn)
            .SetTrainingTimeInSeconds((uint)Math.Max(1, budget.TotalSeconds))
            .SetTuner(tuner)
            .SetSeed(seed)
            .SetRefit();
        if (maxTrials is int n) experiment.SetMaxTrials(n);
        if (monitor != null) experiment.SetMonitor(monitor);
        var result = experiment.RunAsync().GetAwaiter().GetResult();
        var metrics = ml.MulticlassClassification.Evaluate(result.Model.Transform(test), ds.LabelColumn);
        return new SweepOutcome(result, metrics.MicroAccuracy, FusionMetrics.MacroF1(metrics), experiment);
    }

    /// <summary>
    /// Writes the sweep as a JSON object: <c>trials</c> (an array) and <c>chosen</c> with <c>family</c>,
    /// <c>parameters</c>, <c>modalities</c>, <c>validation_metric</c>, <c>test_accuracy</c> (the refitted model on the
    /// test file) and <c>test_macro_f1</c>.
    /// </summary>
    public static void WriteJson(string path, SweepOutcome outcome)
    {
        var r = outcome.Result;
        static Dictionary<string, object?> Parameters(FusionTrialSettings s) => s.Parameters.ToDictionary(p => p.Key, p => (object?)(p.Value is Enum e ? e.ToString() : p.Value));
        var json = new Dictionary<string, object?>
        {
            ["metric"] = r.Metric.ToString(),
            ["trials"] = r.Trials.Select(t => new Dictionary<string, object?>
            {
                ["trial_id"] = t.Settings.TrialId, ["family"] = t.Settings.Family.Name(), ["parameters"] = Parameters(t.Settings),
                ["modalities"] = t.Settings.Modalities, ["status"] = t.Status.ToString(), ["validation_metric"] = LeaderboardJson.Finite(t.ValidationMetric),
                ["accuracy"] = LeaderboardJson.Finite(t.Accuracy), ["macro_f1"] = LeaderboardJson.Finite(t.MacroF1), ["log_loss"] = LeaderboardJson.Finite(t.LogLoss),
                ["worst_missing_modality_metric"] = LeaderboardJson.Finite(t.WorstMissingModalityMetric), ["epochs"] = t.EpochsTrained,
                ["seconds"] = Math.Round(t.Duration.TotalSeconds, 2), ["error"] = t.Error,
            }).ToList(),
            ["chosen"] = new Dictionary<string, object?>
            {
                ["trial_id"] = r.BestTrial.Settings.TrialId, ["family"] = r.BestTrial.Settings.Family.Name(), ["parameters"] = Parameters(r.BestTrial.Settings),
                ["modalities"] = r.BestTrial.Settings.Modalities, ["validation_metric"] = LeaderboardJson.Finite(r.BestTrial.ValidationMetric),
                ["test_accuracy"] = outcome.TestAccuracy, ["test_macro_f1"] = outcome.TestMacroF1, ["refitted"] = r.Refitted,
            },
        };
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, System.Text.Json.JsonSerializer.Serialize(json, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    private sealed class LiveMonitor : IFusionMonitor
    {
        private readonly string _title;
        private readonly List<FusionTrialResult> _trials = new();
        private readonly object _gate = new();
        public LiveMonitor(string title) => _title = title;
        public Action Refresh { get; set; } = () => { };
        public string Status { get; set; } = "starting";

        public void ReportRunningTrial(FusionTrialSettings s) { Status = $"trial {s.TrialId}: {s}"; Refresh(); }
        public void ReportEpoch(FusionTrialSettings s, EpochReport r) { Status = $"trial {s.TrialId}: {s} — epoch {r.Epoch}/{r.Epochs}"; Refresh(); }
        public void ReportCompletedTrial(FusionTrialResult r) { lock (_gate) _trials.Add(r); Refresh(); }
        public void ReportFailTrial(FusionTrialResult r) { lock (_gate) _trials.Add(r); Refresh(); }

        public IRenderable Render()
        {
            var table = new Table().Title(Markup.Escape(_title)).AddColumns("#", "trial", "family", "parameters", "val. accuracy", "worst modality missing", "log-loss", "epochs", "time");
            List<FusionTrialResult> ranked;
            lock (_gate) ranked = _trials.OrderByDescending(t => double.IsNaN(t.Accuracy) ? -1 : t.Accuracy).Take(15).ToList();
            for (int i = 0; i < ranked.Count; i++)
            {
                var t = ranked[i];
                var parameters = string.Join(", ", t.Settings.Parameters.Select(p => $"{p.Key}={(p.Value is double d ? d.ToString("G3") : p.Value)}"));
                table.AddRow((i + 1).ToString(), t.Settings.TrialId.ToString(), t.Settings.Family.Name(), Markup.Escape(parameters.Length > 70 ? parameters[..69] + "…" : parameters),
                    t.Status == FusionTrialStatus.Completed ? $"{t.Accuracy:P1}" : t.Status.ToString().ToLowerInvariant(),
                    double.IsNaN(t.WorstMissingModalityMetric) ? "" : $"{t.WorstMissingModalityMetric:P1}",
                    double.IsNaN(t.LogLoss) ? "" : $"{t.LogLoss:F3}", t.EpochsTrained.ToString(), $"{t.Duration.TotalSeconds:F1}s");
            }
            return new Rows(table, new Markup($"[grey]{Markup.Escape(Status)}[/]"));
        }
    }
}
