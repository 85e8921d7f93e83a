using MLNetFusion.Trainers;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using MLNetFusion.Data;
using MLNetFusion.Datasets;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Training;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>The leaderboard's JSON file (the leaderboard itself is <c>mlContext.Fusion().CreateLeaderboard</c>).</summary>
public static class LeaderboardJson
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    /// <summary>
    /// Writes the leaderboard as a JSON array with the fields <c>kind</c> (baseline, singlemodality, fusion, ensemble),
    /// <c>family</c>, <c>configuration</c>, <c>validation_accuracy</c>, <c>validation_log_loss</c>, <c>recommended</c>,
    /// <c>members</c> (the ensemble's members and weights, else null), <c>accuracy</c> (test),
    /// <c>macro_f1</c>, <c>log_loss</c>, <c>group_out_accuracy</c> (null without a group column),
    /// <c>worst_group_accuracy</c>, <c>group_accuracies</c>, <c>selection_accuracy</c> (what ranks and recommends: the
    /// group-out accuracy when measured, else the validation or out-of-fold accuracy), <c>selection_standard_error</c>,
    /// <c>within_one_standard_error</c> (of the best entry), <c>judged_rows</c>, <c>train_seconds</c> and <c>error</c> (null unless the entry failed).
    /// The file is replaced whole (written to a temporary file first), so a reader never sees half of it.
    /// </summary>
    public static void Write(string path, IEnumerable<AutoML.Leaderboard.LeaderboardEntry> entries, AutoML.Leaderboard.LeaderboardEntry? recommended = null)
    {
        var list = entries.ToList();
        var best = list.Where(e => e.Error == null).OrderByDescending(e => e.RankingAccuracy).FirstOrDefault();
        var rows = list.Select(e => new Dictionary<string, object?>
        {
            ["kind"] = e.Kind.ToString().ToLowerInvariant(), ["family"] = e.Family, ["configuration"] = e.Name,
            ["validation_accuracy"] = Finite(e.ValidationAccuracy), ["validation_log_loss"] = Finite(e.ValidationLogLoss), ["recommended"] = e == recommended,
            ["members"] = e.Members?.Select(m => new Dictionary<string, object?> { ["member"] = m.Member, ["weight"] = Math.Round(m.Weight, 4) }).ToArray(),
            ["accuracy"] = Finite(e.Accuracy), ["macro_f1"] = Finite(e.MacroF1),
            ["log_loss"] = Finite(e.LogLoss), ["group_out_accuracy"] = e.GroupOutAccuracy, ["worst_group_accuracy"] = e.WorstGroupAccuracy,
            ["group_accuracies"] = e.GroupAccuracies, ["selection_accuracy"] = Finite(e.RankingAccuracy), ["selection_standard_error"] = Finite(e.RankingStandardError),
            ["within_one_standard_error"] = best != null && e.WithinOneStandardErrorOf(best), ["judged_rows"] = e.JudgedRows, ["train_seconds"] = Math.Round(e.TrainingTime.TotalSeconds, 2), ["error"] = e.Error, ["notes"] = e.Notes,
        });
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full + ".partial", JsonSerializer.Serialize(rows, Json));
        File.Move(full + ".partial", full, overwrite: true);
    }

    /// <summary>JSON has no NaN: a non-finite metric is written as null.</summary>
    internal static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
