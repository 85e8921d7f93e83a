using MLNetFusion.Models;
using MLNetFusion.Trainers;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Cli.Progress;
using MLNetFusion.AutoML.Leaderboard;
using Spectre.Console;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>
/// The main command: generate (or reuse) the default dataset, featurize it once, train every fusion family available
/// plus each single modality, print a leaderboard and write a PNG chart.
/// </summary>
public static class MainJob
{
    /// <summary>Runs the job and returns the leaderboard (best first).</summary>
    /// <param name="ds">The dataset and its inferred column roles.</param>
    /// <param name="chartPath">Where to write the PNG chart.</param>
    /// <param name="epochs">Epochs of the neural families.</param>
    /// <param name="seed">MLContext seed.</param>
    /// <param name="title">Table and chart title.</param>
    /// <param name="includeSingles">Also train each single modality with the same encoder.</param>
    /// <param name="jsonPath">Where to write the leaderboard as JSON (rewritten as each entry finishes), or <c>null</c>.</param>
    /// <param name="leaveOneGroupOut">Also score every entry by leave-one-group-out on the training file (by the dataset's group column) and rank by it.</param>
    /// <param name="earlyStopping">Epochs without a better validation loss before a neural entry stops (0: every epoch runs).</param>
    /// <param name="folds">0: chosen by the training rows; 1: judge on a validation hold-out; 2-20: cross-fit every candidate (<see cref="FusionLeaderboardOptions.NumberOfFolds"/>).</param>
    /// <param name="bagged">Serve the fold models' average rather than a refit on every training row (<see cref="FusionLeaderboardOptions.CrossFittedModel"/>).</param>
    /// <param name="timeLimit">The leaderboard's time limit (<see cref="FusionLeaderboardOptions.TimeLimit"/>), or <c>null</c>.</param>
    public static List<LeaderboardEntry> Run(MultimodalDataset ds, string chartPath, int epochs, int seed, string title, bool includeSingles = true, string? jsonPath = null,
        bool leaveOneGroupOut = false, int earlyStopping = FusionCandidates.Defaults.EarlyStoppingPatience, int folds = FusionLeaderboardOptions.Defaults.NumberOfFolds, bool bagged = false,
        TimeSpan? timeLimit = null)
        => RunLeaderboard(ds, chartPath, epochs, seed, title, includeSingles, jsonPath, leaveOneGroupOut, keepModel: false, earlyStopping: earlyStopping, folds: folds, bagged: bagged,
            timeLimit: timeLimit).entries;

    private static IEnumerable<MLNetFusion.Mapping.IFeaturizationCost> Costs(ITransformer? t) => t switch
    {
        MLNetFusion.Mapping.IFeaturizationCost cost => new[] { cost },
        IEnumerable<ITransformer> chain => chain.SelectMany(Costs),
        _ => Array.Empty<MLNetFusion.Mapping.IFeaturizationCost>(),
    };

    /// <summary>Runs the leaderboard and returns its entries and, with <paramref name="keepModel"/>, the recommended model (the caller disposes it).</summary>
    internal static (List<LeaderboardEntry> entries, LeaderboardEntry? recommended, ITransformer? model, string reason) RunLeaderboard(MultimodalDataset ds, string? chartPath, int epochs, int seed,
        string title, bool includeSingles, string? jsonPath, bool leaveOneGroupOut, bool keepModel, MLContext? context = null, (IDataView train, IDataView test)? featurized = null,
        int earlyStopping = FusionCandidates.Defaults.EarlyStoppingPatience, int folds = FusionLeaderboardOptions.Defaults.NumberOfFolds, bool bagged = false, TimeSpan? timeLimit = null)
    {
        var ml = context ?? new MLContext(seed: seed);
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 120);
        var total = Stopwatch.StartNew();
        AnsiConsole.MarkupLine($"[bold]MLNetFusion leaderboard[/] on [blue]{Markup.Escape(ds.Folder)}[/]");
        AnsiConsole.Write(RolesTable(ds));
        if (ds.GroupColumn == null && ds.Columns.Columns.Where(c => c.LooksLikeGroup).Select(c => c.Name).ToList() is { Count: > 0 } groupLike)
            Console.WriteLine($"Note: {string.Join(" and ", groupLike.Select(g => $"'{g}'"))} {(groupLike.Count == 1 ? "looks" : "look")} like where rows come from, and no --group was given, " +
                "so every entry is validated on rows from the same values as its training rows. If new rows will come from other values, that validation cannot see the shift." +
                Environment.NewLine + $"Hint: pass --group {groupLike[0]} to validate and select by leave-one-group-out.");
        IDataView train, test;
        ITransformer? featurizer = null;
        if (featurized is { } f) (train, test) = f;
        else
        {
            Console.WriteLine("Featurizing each column by its role (the chain the roles table implies)…");
            var lastReport = new Dictionary<string, TimeSpan>();
            ds.Columns.Options.PretrainedProgress = (what, rows, elapsed) =>
            {
                lock (lastReport)
                {
                    if (lastReport.TryGetValue(what, out var last) && elapsed - last < TimeSpan.FromSeconds(15)) return;
                    lastReport[what] = elapsed;
                }
                Console.WriteLine($"  {what}: {rows} rows in {elapsed.TotalSeconds:F0}s…");
            };
            (train, test, featurizer) = ds.Featurize(ml);
            train.Preview(1); test.Preview(1); // fill both caches, so the time below is the featurization's
        }
        long Rows(IDataView d) => d.GetColumn<uint>(ds.LabelColumn).LongCount();
        Console.WriteLine($"Featurized {Rows(train)} training and {Rows(test)} test rows in {total.Elapsed.TotalSeconds:F1}s.");
        // An expensive pass (a pretrained encoder) is done once here and shared by every candidate: its time on a line of its own.
        foreach (var cost in Costs(featurizer).Where(c => c.RowsComputed > 0))
            Console.WriteLine($"  of which {cost.CostDescription}: {cost.RowsComputed} rows in {cost.ComputeTime.TotalSeconds:F1}s " +
                $"({cost.RowsComputed / Math.Max(1e-9, cost.ComputeTime.TotalSeconds):F0} rows/s), once for every candidate.");
        if (leaveOneGroupOut)
        {
            if (ds.GroupColumn == null) throw new InvalidOperationException("Leave-one-group-out needs a group column." + Environment.NewLine + "Hint: pass --group COLUMN.");
            var groups = SamplingKeyGroups.Read(train, ds.GroupColumn);
            groups.RequireSeveralGroups();
            Console.WriteLine($"Leave-one-group-out on '{ds.GroupColumn}': {groups.Count} groups (" +
                string.Join(", ", groups.GroupNames.Select((n, i) => $"{n}: {groups.RowsPerGroup[i]} rows")) +
                ").");
        }
        var candidates = FusionCandidates.Default(ds.Featurization, ds.GroupColumn, includeSingles);
        if (folds == 0) folds = FusionLeaderboardOptions.FoldsFor(Rows(train));
        string served = bagged ? "served as the average of those fits" : "refitted on all of them";
        Console.WriteLine($"{candidates.Count} candidates, then an ensemble selected over them; " + (leaveOneGroupOut
            ? $"each is fitted once without each '{ds.GroupColumn}' group and judged on it, recommended by its mean over the groups, and {served}"
            : folds > 1 ? $"each is fitted {folds} times, each time without one fold{(ds.GroupColumn != null ? $" of whole '{ds.GroupColumn}' groups" : "")}, judged out of fold on every training row, and {served}"
            : $"each is fitted on the training rows minus a validation fifth{(ds.GroupColumn != null ? $" (whole '{ds.GroupColumn}' groups)" : "")}, which chooses the recommended model") +
            "; the test rows are only reported.");
        if (timeLimit is { } limit)
            Console.WriteLine($"Time limit {ProgressLine.Format(limit)}: the plain baselines run first, then late fusion, the early MLP, each modality alone and the joint networks, " +
                "each neural one with the epochs its share of the time left pays for; a candidate that would not finish is skipped and listed.");

        ProgressLine? line = null;
        int current = -1;
        var options = new FusionLeaderboardOptions
        {
            GroupColumnName = ds.GroupColumn, LeaveOneGroupOut = leaveOneGroupOut, Epochs = epochs, IncludeSingleModalities = includeSingles, Candidates = candidates, Seed = seed,
            EarlyStoppingPatience = earlyStopping, NumberOfFolds = folds, CrossFittedModel = bagged ? CrossFittedModel.Bagged : CrossFittedModel.Refit, TimeLimit = timeLimit,
            Progress = (i, fraction, stage) =>
            {
                if (i != current) { line?.Dispose(); current = i; line = new ProgressLine($"[{i + 1}/{candidates.Count + 1}] {candidates[i].FamilyName}: {candidates[i].Name}"); }
                line!.Report(fraction, stage);
            },
            EntryFinished = (entry, all) =>
            {
                line?.Dispose(); line = null; current = -1;
                // Every finished entry is on disk at once: a run stopped later (killed, cancelled) keeps what it measured.
                if (jsonPath != null) LeaderboardJson.Write(jsonPath, all);
                Console.WriteLine($"[{all.Count}/{candidates.Count + 1}] {Done(entry, folds > 1 ? "out of fold" : "validation")} ({ProgressLine.Format(entry.TrainingTime)}; {ProgressLine.Format(total.Elapsed)} in all)");
            },
        };
        using var result = ml.Fusion().CreateLeaderboard(train, test, ds.Featurization, options);
        line?.Dispose();
        var ordered = result.Entries.ToList();

        // What ranks and recommends (group-out, out-of-fold or validation accuracy) with its standard error, beside the
        // test accuracy; ★ marks the recommended entry and ≈ the entries within one standard error of the best. Kind and
        // macro-F1 are in the JSON: the table stays narrow enough for a 120-column terminal.
        string judged = leaveOneGroupOut ? $"leave-one-{ds.GroupColumn}-out ± SE" : folds > 1 ? "out-of-fold ± SE" : "validation ± SE";
        var best = ordered.FirstOrDefault(e => e.Error == null);
        var table = new Table().Title(Markup.Escape(title)).AddColumns("#", "family", "configuration", judged, "test");
        if (leaveOneGroupOut) table.AddColumns("worst group");
        table.AddColumns("log-loss", "time");
        for (int i = 0; i < ordered.Count; i++)
        {
            var r = ordered[i];
            string mark = r == result.Recommended ? " ★" : best != null && r != best && r.WithinOneStandardErrorOf(best) ? " ≈" : "";
            string se = double.IsNaN(r.RankingStandardError) ? "" : $" ± {100 * r.RankingStandardError:F1}";
            var cells = new List<string> { (i + 1) + mark, r.Family, Markup.Escape(r.Name + (r.Notes != null ? $" ({r.Notes})" : "")), r.Error != null ? "[red]failed[/]" : Pct(r.RankingAccuracy) + se, Pct(r.Accuracy) };
            if (leaveOneGroupOut) cells.Add(Pct(r.WorstGroupAccuracy ?? double.NaN));
            cells.AddRange(r.Error != null ? new[] { Markup.Escape(r.Error), ProgressLine.Format(r.TrainingTime) }
                : new[] { $"{r.LogLoss:F3}", ProgressLine.Format(r.TrainingTime) });
            table.AddRow(cells.ToArray());
        }
        table.Columns[2].Width(48);
        AnsiConsole.Write(table);
        Console.WriteLine($"Judged by {result.Protocol}.");
        Console.WriteLine("Time: " + string.Join("; ", result.Timings.Select(t => $"{t.Part} {ProgressLine.Format(t.Time)}")) + $"; {ProgressLine.Format(total.Elapsed)} in all, featurization included.");
        if (result.UnscoredTestRows > 0)
            Console.WriteLine($"{result.UnscoredTestRows} test rows have a label that is not a class of the training rows (or none): they are not in the test metrics.");
        if (result.Recommended is { } rec)
        {
            Console.WriteLine($"Recommended (★): {rec.Family}: {rec.Name}, {result.RecommendationReason}.");
            if (rec.Members is { } members)
                Console.WriteLine("Ensemble members: " + string.Join(", ", members.Select(m => $"{m.Member} {m.Weight:F2}")) + ".");
        }
        if (chartPath != null)
            LeaderboardChart.Write(chartPath, title, ordered.Where(r => r.Error == null).ToList(), ds.Columns.ClassCount, result.Recommended,
                leaveOneGroupOut ? $"leave-one-{ds.GroupColumn}-out accuracy" : folds > 1 ? "out-of-fold accuracy" : "validation accuracy");
        if (jsonPath != null)
        {
            LeaderboardJson.Write(jsonPath, ordered, result.Recommended);
            Console.WriteLine($"Leaderboard JSON written to {Path.GetFullPath(jsonPath)}.");
        }
        if (chartPath != null) Console.WriteLine($"Chart written to {Path.GetFullPath(chartPath)}. Total time {total.Elapsed.TotalSeconds:F0}s.");
        var model = keepModel ? result.DetachRecommendedModel() : null;
        return (ordered, result.Recommended, model, result.RecommendationReason);
    }

    private static string Pct(double v) => double.IsFinite(v) ? $"{v:P1}" : "—";

    private static string Done(LeaderboardEntry e, string judged) => e.Error != null ? $"{e.Family}: {e.Name} → failed: {e.Error}"
        : $"{e.Family}: {e.Name} → " + (e.GroupOutAccuracy is double g ? $"group-out {g:P1}" : $"{judged} {e.ValidationAccuracy:P1}") + $", test {e.Accuracy:P1}" +
          (e.Notes != null ? $" ({e.Notes})" : "");

    /// <summary>The inferred column roles as a table: column, role, why, and each modality column's settings.</summary>
    public static Table RolesTable(MultimodalDataset ds)
    {
        var c = ds.Columns;
        var table = new Table().Title(Markup.Escape($"Columns of {Path.GetFileName(c.Path)} ({c.RowCount} rows, {c.ClassCount} classes)")).AddColumns("column", "role", "why");
        foreach (var col in c.Columns)
        {
            string detail = c.Settings.TryGetValue(col.Name, out var settings) ? "; " + settings.Summary : "";
            table.AddRow(Markup.Escape(col.Name), Markup.Escape(col.RoleName), Markup.Escape(col.Reason + detail));
        }
        return table;
    }
}
