using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Distributed;
using MLNetFusion.Trainers;
using Spectre.Console;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>
/// <c>mlnetfusion sweep --cluster redis://…</c>: submits the study to the cluster's workers, prints each trial as it
/// finishes (which worker ran it, its rung), then the leaderboard and the refitted model's file.
/// </summary>
public static class DistributedSweepJob
{
    /// <summary>Runs the study and returns the process exit code.</summary>
    public static int Run(FusionStudySpec spec, string cluster, string clusterId, string studyId, string? jsonPath, TimeSpan? clusterTimeout = null)
    {
        spec.Validate();
        AnsiConsole.MarkupLine($"[bold]MLNetFusion sweep[/] on cluster [blue]{Markup.Escape(cluster)}[/], study [blue]{Markup.Escape(studyId)}[/]: " +
            Markup.Escape($"{spec.TrainPath}, {(spec.Folds > 1 ? $"{spec.Folds} folds" : $"a {spec.ValidationFraction:P0} hold-out")}{(spec.Group != null ? $" of whole '{spec.Group}' groups" : "")}, " +
            $"asynchronous successive halving (eta {spec.Eta}), {(spec.MaxTrials is int n ? $"{n} trials" : "")}{(spec.MaxTrials != null && spec.TimeBudgetSeconds != null ? ", " : "")}{(spec.TimeBudgetSeconds is double s ? $"{s / 60:F1} min" : "")}."));
        // Workers that were just started can take a minute to register on a busy machine: say so while waiting.
        var wait = clusterTimeout ?? FusionClusterConnection.DefaultWaitForCluster;
        var lastReport = TimeSpan.Zero;
        using var connection = FusionClusterConnection.ConnectAsync(cluster, clusterId, wait, progress: (waited, why) =>
        {
            if (waited - lastReport < TimeSpan.FromSeconds(10)) return;
            lastReport = waited;
            Console.WriteLine($"Waiting for a worker of cluster '{clusterId}' to register: {waited.TotalSeconds:F0} of {wait.TotalSeconds:F0} s ({why}).");
        }).GetAwaiter().GetResult();
        var reported = new HashSet<int>();
        var progress = new Progress<StudySnapshot>(s =>
        {
            foreach (var t in s.Trials.Where(t => t.Report != null && reported.Add(t.Trial.TrialId)))
            {
                string where = t.Rung >= 0 ? $", rung {t.Rung}" : ", defaults";
                string attempt = t.Attempts > 1 ? $" (attempt {t.Attempts})" : "";
                string outcome = t.Report!.Status == FusionTrialStatus.Completed ? $"accuracy {t.Report.Accuracy.ToString("P1", CultureInfo.InvariantCulture)}" : $"{t.Report.Status}: {t.Report.Error}";
                Console.WriteLine($"[{s.ElapsedSeconds.ToString("F0", CultureInfo.InvariantCulture),6}s] trial {t.Trial.TrialId} ({t.Trial.Family}{where}) on {t.Report.Worker}{attempt}: {outcome}");
            }
        });
        var result = connection.Studies.RunAsync(studyId, spec, progress).GetAwaiter().GetResult();
        var table = new Table().AddColumns("trial", "family", "settings", "accuracy", "macro-F1", "epochs", "worker", "seconds");
        var rank = result.Trials.Where(t => t.Status == FusionTrialStatus.Completed).OrderByDescending(t => spec.Metric == FusionMetric.LogLoss ? -t.Metric : t.Metric);
        foreach (var t in rank)
        {
            var row = result.Snapshot.Trials.First(x => x.Trial.TrialId == t.Settings.TrialId);
            table.AddRow(t.Settings.TrialId.ToString(CultureInfo.InvariantCulture), t.Settings.Family.Name(), Markup.Escape(t.Settings.ToString()), t.Accuracy.ToString("P1", CultureInfo.InvariantCulture),
                t.MacroF1.ToString("F3", CultureInfo.InvariantCulture), t.EpochsTrained.ToString(CultureInfo.InvariantCulture), Markup.Escape(row.Report?.Worker ?? ""),
                t.Duration.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(table);
        var snapshot = result.Snapshot;
        AnsiConsole.MarkupLine(Markup.Escape($"Best: trial {result.BestTrial.Settings.TrialId}, {result.BestTrial.Settings} — validation accuracy {result.BestTrial.Accuracy:P1}. " +
            $"{result.Trials.Count} trials in {snapshot.ElapsedSeconds:F0}s on {snapshot.Trials.Select(t => t.Report?.Worker).Distinct().Count()} worker(s); {snapshot.Reassignments} trial(s) given to another worker after theirs was lost."));
        if (result.ModelPath != null) AnsiConsole.MarkupLine($"Refitted on all training rows and saved to [blue]{Markup.Escape(result.ModelPath)}[/] (serve it with `mlnetfusion predict --model`).");
        if (jsonPath != null)
        {
            var json = new Dictionary<string, object?>
            {
                ["study"] = studyId, ["elapsed_seconds"] = snapshot.ElapsedSeconds, ["reassignments"] = snapshot.Reassignments, ["model"] = result.ModelPath,
                ["best_trial_id"] = result.BestTrial.Settings.TrialId,
                ["trials"] = snapshot.Trials.Select(t => new Dictionary<string, object?>
                {
                    ["trial_id"] = t.Trial.TrialId, ["family"] = t.Trial.Family, ["parameters"] = t.Trial.Parameters, ["rung"] = t.Rung, ["attempts"] = t.Attempts,
                    ["worker"] = t.Report?.Worker, ["status"] = t.Report?.Status.ToString(), ["accuracy"] = LeaderboardJson.Finite(t.Report?.Accuracy ?? double.NaN),
                    ["macro_f1"] = LeaderboardJson.Finite(t.Report?.MacroF1 ?? double.NaN), ["log_loss"] = LeaderboardJson.Finite(t.Report?.LogLoss ?? double.NaN),
                    ["epochs"] = t.Report?.EpochsTrained, ["seconds"] = t.Report?.Seconds, ["error"] = t.Report?.Error,
                }).ToList(),
            };
            var full = Path.GetFullPath(jsonPath);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, System.Text.Json.JsonSerializer.Serialize(json, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            AnsiConsole.MarkupLine($"Sweep JSON written to [blue]{Markup.Escape(full)}[/].");
        }
        return 0;
    }
}
