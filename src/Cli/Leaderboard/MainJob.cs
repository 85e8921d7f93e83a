using MLNetFusion.Models;
using MLNetFusion.Trainers;
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Cli.Progress;
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
    /// <param name="jsonPath">Where to write the leaderboard as JSON, or <c>null</c>.</param>
    /// <param name="leaveOneGroupOut">Also score every entry by leave-one-group-out on the training file (by the dataset's group column) and rank by it.</param>
    public static List<LeaderboardEntry> Run(MultimodalDataset ds, string chartPath, int epochs, int seed, string title, bool includeSingles = true, string? jsonPath = null,
        bool leaveOneGroupOut = false)
    {
        var ml = new MLContext(seed: seed);
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 120);
        var total = Stopwatch.StartNew();
        AnsiConsole.MarkupLine($"[bold]MLNetFusion leaderboard[/] on [blue]{Markup.Escape(ds.Folder)}[/]");
        AnsiConsole.Write(RolesTable(ds));
        IDataView train = null!, test = null!;
        AnsiConsole.Status().Start("Featurizing each column by its role (the chain the roles table implies)…", ctx =>
        {
            (train, test, var _) = ds.Featurize(ml);
            train.Preview(1); // fill the cache
        });
        long Rows(IDataView d) => d.GetColumn<uint>(ds.LabelColumn).LongCount();
        AnsiConsole.MarkupLine($"Featurized {Rows(train)} training and {Rows(test)} test rows in {total.Elapsed.TotalSeconds:F1}s.");
        SamplingKeyGroups? groups = null;
        if (leaveOneGroupOut)
        {
            if (ds.GroupColumn == null) throw new InvalidOperationException("Leave-one-group-out needs a group column." + Environment.NewLine + "Hint: pass --group COLUMN.");
            groups = SamplingKeyGroups.Read(train, ds.GroupColumn);
            groups.RequireSeveralGroups();
            AnsiConsole.MarkupLine(Markup.Escape($"Leave-one-group-out on '{ds.GroupColumn}': {groups.Count} groups (" +
                string.Join(", ", groups.GroupNames.Select((n, i) => $"{n}: {groups.RowsPerGroup[i]} rows")) +
                "); every entry is also trained on all groups but one and tested on that one, and ranked by the mean."));
        }
        int fits = 1 + (groups?.Count ?? 0);

        var candidates = Candidates.All(ds, epochs).ToList();
        if (includeSingles)
            foreach (var m in ds.Modalities())
            {
                // A modality that can be missing (an empty text) cannot predict its rows alone; its fixed features (text
                // as a bounded hashed bag of words, zero for an empty text) can, through the same network with an MLP encoder.
                int index = ds.Modalities().FindIndex(x => x.ColumnName == m.ColumnName);
                var alone = m.FeaturesColumnName == null ? m.Clone() : ModalityOptions.Tabular(ds.DenseFeatureColumns[index], m.Name, 64, 32);
                string how = m.FeaturesColumnName == null ? "same encoder" : "its hashed words, MLP";
                candidates.Add(new Candidate(null, $"{m.Name} only ({how})", (ml2, d, p) => ml2.MulticlassClassification.Trainers.NetworkFusion(
                    new NetworkFusionOptions { Modalities = new() { alone.Clone() }, Epochs = epochs, Progress = Candidates.EpochProgress(p), LabelColumnName = d.LabelColumn })));
            }

        var results = new List<LeaderboardEntry>();
        LeaderboardEntry RunOne(int i, Action<double, string> progress)
        {
            var c = candidates[i];
            var clock = Stopwatch.StartNew();
            try
            {
                var entry = LeaderboardRunner.Run(ml, ds, c, train, test, (f, stage) => progress(f / fits, groups == null ? stage : $"all rows, {stage}"));
                if (groups != null)
                {
                    var perGroup = LeaderboardRunner.LeaveOneGroupOut(ml, ds, c, train, groups,
                        (fold, f, stage) => progress((1 + fold + f) / fits, $"without {ds.GroupColumn} '{groups.GroupNames[fold]}' ({fold + 1}/{groups.Count}), {stage}"));
                    entry = entry with { GroupOutAccuracy = perGroup.Values.Average(), WorstGroupAccuracy = perGroup.Values.Min(), GroupAccuracies = perGroup };
                }
                return entry;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // One failing candidate is a row with its error; the others go on.
                return LeaderboardEntry.Failed(c.FamilyName, c.Name, ex, clock.Elapsed);
            }
        }
        string Done(LeaderboardEntry e) => e.Error != null ? $"{e.Family}: {e.Name} → failed: {e.Error}"
            : $"{e.Family}: {e.Name} → {e.Accuracy:P1}" + (e.GroupOutAccuracy is double g ? $", group-out {g:P1}" : "");
        void Finished(LeaderboardEntry entry)
        {
            results.Add(entry);
            // Every finished entry is on disk at once: a run stopped later (killed, cancelled) keeps what it measured.
            if (jsonPath != null) LeaderboardRunner.WriteJson(jsonPath, results);
        }
        if (Console.IsOutputRedirected)
        {
            // Piped or logged: plain progress lines (at most one per 10 s) and one line per finished entry.
            for (int i = 0; i < candidates.Count; i++)
            {
                string what = $"[{i + 1}/{candidates.Count}] {candidates[i].FamilyName}: {candidates[i].Name}";
                LeaderboardEntry entry;
                using (var line = new ProgressLine(what)) entry = RunOne(i, line.Report);
                Finished(entry);
                Console.WriteLine($"[{i + 1}/{candidates.Count}] {Done(entry)} ({ProgressLine.Format(entry.TrainingTime)}; {ProgressLine.Format(total.Elapsed)} in all)");
            }
        }
        else
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var tasks = candidates.Select(c => ctx.AddTask(Markup.Escape($"{c.FamilyName}: {c.Name}"), autoStart: false, maxValue: 1)).ToList();
                    for (int i = 0; i < candidates.Count; i++)
                    {
                        var task = tasks[i];
                        string name = $"{candidates[i].FamilyName}: {candidates[i].Name}";
                        task.StartTask();
                        var entry = RunOne(i, (v, stage) => { task.Value = Math.Min(0.99, v); task.Description = Markup.Escape($"{name} · {stage}"); });
                        task.Value = 1;
                        task.StopTask();   // its timer stops with the row
                        task.Description = Markup.Escape(Done(entry));
                        Finished(entry);
                    }
                });

        // Ranked by generalisation to unseen groups when it was measured: in-distribution accuracy cannot tell which fusion survives a shift.
        var ordered = results.OrderBy(r => r.Error != null).ThenByDescending(r => r.RankingAccuracy).ThenByDescending(r => r.Accuracy).ToList();
        var table = new Table().Title(Markup.Escape(title)).AddColumns("#", "family", "configuration", "test accuracy");
        if (groups != null) table.AddColumns($"leave-one-{ds.GroupColumn}-out", "worst group");
        table.AddColumns("macro-F1", "log-loss", "train time");
        for (int i = 0; i < ordered.Count; i++)
        {
            var r = ordered[i];
            var cells = new List<string> { (i + 1).ToString(), r.Family, Markup.Escape(r.Name), r.Error != null ? "[red]failed[/]" : $"{r.Accuracy:P1}" };
            if (groups != null) cells.AddRange(new[] { r.Error != null ? "—" : $"{r.GroupOutAccuracy:P1}", r.Error != null ? "—" : $"{r.WorstGroupAccuracy:P1}" });
            cells.AddRange(r.Error != null ? new[] { "—", Markup.Escape(r.Error), $"{r.TrainingTime.TotalSeconds:F1}s" }
                : new[] { $"{r.MacroF1:F3}", $"{r.LogLoss:F3}", $"{r.TrainingTime.TotalSeconds:F1}s" });
            table.AddRow(cells.ToArray());
        }
        AnsiConsole.Write(table);
        LeaderboardChart.Write(chartPath, title, ordered.Where(r => r.Error == null).ToList(), ds.Columns.ClassCount);
        if (jsonPath != null)
        {
            LeaderboardRunner.WriteJson(jsonPath, ordered);
            AnsiConsole.MarkupLine($"Leaderboard JSON written to [blue]{Markup.Escape(Path.GetFullPath(jsonPath))}[/].");
        }
        AnsiConsole.MarkupLine($"Chart written to [blue]{Markup.Escape(Path.GetFullPath(chartPath))}[/]. Total time {total.Elapsed.TotalSeconds:F0}s.");
        return ordered;
    }

    /// <summary>The inferred column roles as a table: column, role, why; then the image and audio settings.</summary>
    public static Table RolesTable(MultimodalDataset ds)
    {
        var c = ds.Columns;
        var table = new Table().Title(Markup.Escape($"Columns of {Path.GetFileName(c.Path)} ({c.RowCount} rows, {c.ClassCount} classes)")).AddColumns("column", "role", "why");
        foreach (var col in c.Columns)
        {
            string detail = col.Role switch
            {
                MLNetFusion.AutoML.ColumnRole.ImagePath when c.Images.TryGetValue(col.Name, out var i) => $"; resized to {i.Width}×{i.Height}, {(i.Grayscale ? "gray" : "RGB")} ({i.FilesDecoded} files decoded)",
                MLNetFusion.AutoML.ColumnRole.AudioPath when c.Audio.TryGetValue(col.Name, out var a) => $"; {a.SampleRate} Hz, {a.ClipSeconds:0.##} s clips, log-mel {a.MelBands} bands, FFT {a.FftSize}, hop {a.HopLength} ({a.FilesDecoded} files decoded)",
                _ => "",
            };
            table.AddRow(Markup.Escape(col.Name), col.Role.ToString(), Markup.Escape(col.Reason + detail));
        }
        return table;
    }
}
