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

/// <summary>One candidate's result as the benchmarks measure it (the leaderboard itself is <c>mlContext.Fusion().CreateLeaderboard</c>).</summary>
/// <param name="Family">Fusion family.</param>
/// <param name="Name">The configuration.</param>
/// <param name="Accuracy">Accuracy on the test split.</param>
/// <param name="MacroF1">Macro-F1 on the test split.</param>
/// <param name="LogLoss">Log-loss on the test split.</param>
/// <param name="TrainingTime">Time to fit on the whole training file.</param>
/// <param name="GroupOutAccuracy">Leave-one-group-out accuracy on the training file (mean over groups), when a group column is given.</param>
/// <param name="WorstGroupAccuracy">The lowest held-out group's accuracy, when a group column is given.</param>
/// <param name="GroupAccuracies">Each held-out group's accuracy, when a group column is given.</param>
/// <param name="Error">Why the candidate failed (its metrics are then NaN), or <c>null</c>.</param>
public sealed record CandidateResult(string Family, string Name, double Accuracy, double MacroF1, double LogLoss, TimeSpan TrainingTime,
    double? GroupOutAccuracy = null, double? WorstGroupAccuracy = null, IReadOnlyDictionary<string, double>? GroupAccuracies = null, string? Error = null)
{
    /// <summary>A candidate that failed: its error (the innermost message, ML.NET's worker wrappers removed), no metrics.</summary>
    public static CandidateResult Failed(string family, string name, Exception ex, TimeSpan elapsed)
    {
        var inner = ex;
        while (inner.InnerException != null && (inner is AggregateException or System.Reflection.TargetInvocationException || inner.Message.Contains("worker encountered exception", StringComparison.Ordinal)))
            inner = inner.InnerException;
        return new(family, name, double.NaN, double.NaN, double.NaN, elapsed, Error: inner.Message.Split('\n')[0].Trim());
    }

    /// <summary>The ranking value: the group-out accuracy when measured, else the test accuracy.</summary>
    public double RankingAccuracy => GroupOutAccuracy ?? Accuracy;
}

/// <summary>Trains candidates on featurized data and evaluates them on the test split (and by leave-one-group-out).</summary>
public static class LeaderboardRunner
{
    /// <summary>Trains and evaluates one candidate on the test split.</summary>
    public static CandidateResult Run(MLContext ml, MultimodalDataset ds, Candidate c, IDataView train, IDataView test, Action<double, string>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var model = c.Build(ml, ds, progress).Fit(train);
        sw.Stop();
        try
        {
            var m = ml.MulticlassClassification.Evaluate(model.Transform(test), ds.LabelColumn);
            return new CandidateResult(c.FamilyName, c.Name, m.MicroAccuracy, FusionMetrics.MacroF1(m), m.LogLoss, sw.Elapsed);
        }
        finally
        {
            (model as IDisposable)?.Dispose(); // a TransformerChain disposes its links
        }
    }

    /// <summary>
    /// Leave-one-group-out on <paramref name="train"/>: for each group of <paramref name="groups"/>, fit on the others and
    /// measure accuracy on it. Returns each group's accuracy.
    /// </summary>
    public static Dictionary<string, double> LeaveOneGroupOut(MLContext ml, MultimodalDataset ds, Candidate c, IDataView train, SamplingKeyGroups groups,
        Action<int, double, string>? progress = null)
    {
        var result = new Dictionary<string, double>();
        int fold = 0;
        foreach (var (group, foldTrain, foldTest) in groups.LeaveOneGroupOut(train))
        {
            int f = fold++;
            var model = c.Build(ml, ds, progress == null ? null : (v, stage) => progress(f, v, stage)).Fit(ml.Data.Cache(foldTrain));
            try { result[group] = ml.MulticlassClassification.Evaluate(model.Transform(foldTest), ds.LabelColumn).MicroAccuracy; }
            finally { (model as IDisposable)?.Dispose(); }
        }
        return result;
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    /// <summary>
    /// Writes the leaderboard as a JSON array with the fields <c>kind</c> (baseline, singlemodality, fusion, ensemble),
    /// <c>family</c>, <c>configuration</c>, <c>validation_accuracy</c>, <c>validation_log_loss</c>, <c>recommended</c>,
    /// <c>members</c> (the ensemble's members and weights, else null), <c>accuracy</c> (test),
    /// <c>macro_f1</c>, <c>log_loss</c>, <c>group_out_accuracy</c> (null without a group column),
    /// <c>worst_group_accuracy</c>, <c>group_accuracies</c>, <c>train_seconds</c> and <c>error</c> (null unless the entry failed).
    /// The file is replaced whole (written to a temporary file first), so a reader never sees half of it.
    /// </summary>
    public static void WriteJson(string path, IEnumerable<AutoML.Leaderboard.LeaderboardEntry> entries, AutoML.Leaderboard.LeaderboardEntry? recommended = null)
    {
        var rows = entries.Select(e => new Dictionary<string, object?>
        {
            ["kind"] = e.Kind.ToString().ToLowerInvariant(), ["family"] = e.Family, ["configuration"] = e.Name,
            ["validation_accuracy"] = Finite(e.ValidationAccuracy), ["validation_log_loss"] = Finite(e.ValidationLogLoss), ["recommended"] = e == recommended,
            ["members"] = e.Members?.Select(m => new Dictionary<string, object?> { ["member"] = m.Member, ["weight"] = Math.Round(m.Weight, 4) }).ToArray(),
            ["accuracy"] = Finite(e.Accuracy), ["macro_f1"] = Finite(e.MacroF1),
            ["log_loss"] = Finite(e.LogLoss), ["group_out_accuracy"] = e.GroupOutAccuracy, ["worst_group_accuracy"] = e.WorstGroupAccuracy,
            ["group_accuracies"] = e.GroupAccuracies, ["train_seconds"] = Math.Round(e.TrainingTime.TotalSeconds, 2), ["error"] = e.Error, ["notes"] = e.Notes,
        });
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full + ".partial", JsonSerializer.Serialize(rows, Json));
        File.Move(full + ".partial", full, overwrite: true);
    }

    /// <summary>JSON has no NaN: a non-finite metric is written as null.</summary>
    internal static double? Finite(double v) => double.IsFinite(v) ? v : null;
}
