using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Samples.Data;
using MLNetFusion.Samples.Pipelines;
using MLNetFusion.Trainers.Network;
using Spectre.Console;

namespace MLNetFusion.Samples.Leaderboard;

/// <summary>
/// The main command: generate (or reuse) the default dataset, featurize it once, train every fusion family available
/// plus each single modality, print a leaderboard and write a PNG chart.
/// </summary>
public static class MainJob
{
    /// <summary>Runs the job and returns the leaderboard (best first).</summary>
    public static List<LeaderboardEntry> Run(MultimodalDataset ds, string chartPath, int epochs, int seed, string title, bool includeSingles = true)
    {
        var ml = new MLContext(seed: seed);
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 120);
        var total = Stopwatch.StartNew();
        AnsiConsole.MarkupLine($"[bold]MLNetFusion leaderboard[/] on [blue]{Markup.Escape(ds.Folder)}[/]");
        IDataView train = null!, test = null!;
        AnsiConsole.Status().Start("Featurizing (LoadImages → ExtractPixels, LoadAudio → MelSpectrogram, tabular)…", ctx =>
        {
            (train, test, var _) = ds.Featurize(ml);
            train.Preview(1); // fill the cache
        });
        long Rows(IDataView d) => d.GetColumn<uint>(ds.LabelColumn).LongCount();
        AnsiConsole.MarkupLine($"Featurized {Rows(train)} training and {Rows(test)} test rows in {total.Elapsed.TotalSeconds:F1}s.");

        var candidates = Candidates.All(epochs).ToList();
        if (includeSingles)
            foreach (var m in ds.Modalities())
                candidates.Add(new Candidate("single", $"{m.Name} only (same encoder)", (ml2, d, p) => ml2.MulticlassClassification.Trainers.NetworkFusion(
                    new NetworkFusionOptions { Modalities = new() { m.Clone() }, Epochs = epochs, Progress = p })));

        var results = new List<LeaderboardEntry>();
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var tasks = candidates.Select(c => ctx.AddTask(Markup.Escape($"{c.Family}: {c.Name}"), autoStart: false, maxValue: 1)).ToList();
                for (int i = 0; i < candidates.Count; i++)
                {
                    var task = tasks[i];
                    task.StartTask();
                    var entry = LeaderboardRunner.Run(ml, ds, candidates[i], train, test, r => task.Value = (double)r.Epoch / r.Epochs * 0.99);
                    task.Value = 1;
                    task.Description = Markup.Escape($"{entry.Family}: {entry.Name} → {entry.Accuracy:P1}");
                    results.Add(entry);
                }
            });

        var ordered = results.OrderByDescending(r => r.Accuracy).ToList();
        var table = new Table().Title(Markup.Escape(title)).AddColumns("#", "family", "configuration", "accuracy", "macro-F1", "log-loss", "train time");
        for (int i = 0; i < ordered.Count; i++)
        {
            var r = ordered[i];
            table.AddRow((i + 1).ToString(), r.Family, Markup.Escape(r.Name), $"{r.Accuracy:P1}", $"{r.MacroF1:F3}", $"{r.LogLoss:F3}", $"{r.TrainingTime.TotalSeconds:F1}s");
        }
        AnsiConsole.Write(table);
        LeaderboardChart.Write(chartPath, title, ordered);
        AnsiConsole.MarkupLine($"Chart written to [blue]{Markup.Escape(Path.GetFullPath(chartPath))}[/]. Total time {total.Elapsed.TotalSeconds:F0}s.");
        return ordered;
    }
}
