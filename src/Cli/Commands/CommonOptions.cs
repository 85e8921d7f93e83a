using System.CommandLine;
using MLNetFusion.Cli.Leaderboard;
using MLNetFusion.Datasets;

namespace MLNetFusion.Cli.Commands;

/// <summary>Options several commands share (one instance each, added to every command that takes it).</summary>
internal static class CommonOptions
{
    public static Option<int> Epochs { get; } = new("--epochs") { Description = "Epochs for the neural fusion families.", DefaultValueFactory = _ => MLNetFusion.AutoML.Leaderboard.FusionCandidates.Defaults.Epochs };
    public static Option<string> LeaderboardChart { get; } = new("--chart") { Description = "Where to write the leaderboard chart (PNG).", DefaultValueFactory = _ => DefaultPaths.Artifact("leaderboard.png") };
    public static Option<int> Seed { get; } = new("--seed") { Description = "MLContext seed.", DefaultValueFactory = _ => 1 };
    public static Option<string?> Group { get; } = new("--group") { Description = "Group column (speaker, site): also score every entry by leave-one-group-out on the training file, and rank by it." };
    public static Option<int> Folds { get; } = Folds_(MLNetFusion.AutoML.Leaderboard.FusionLeaderboardOptions.Defaults.NumberOfFolds);
    /// <summary>The main job's <c>--folds</c>: a hold-out by default, so that the demonstration stays a two-minute run.</summary>
    public static Option<int> RunFolds { get; } = Folds_(1);
    public static Option<bool> Bagging { get; } = new("--bagging") { Description = "After cross-fitting (or leave-one-group-out), serve the average of the fold models (k models) instead of a refit on every training row (one more fit)." };

    private static Option<int> Folds_(int byDefault) => new("--folds")
    {
        Description = "How the leaderboard judges candidates without --group: 1 holds out a fifth of the training rows; 2-20 cross-fits every candidate on that many folds " +
            "(out-of-fold predictions for every training row, then a refit on all of them: k + 1 fits per candidate); 0 chooses by the training rows " +
            $"({MLNetFusion.AutoML.Leaderboard.FusionLeaderboardOptions.Defaults.CrossFitFolds} folds up to {MLNetFusion.AutoML.Leaderboard.FusionLeaderboardOptions.Defaults.CrossFitUpToRows:N0} rows, a hold-out above).",
        DefaultValueFactory = _ => byDefault,
    };
    public static Option<int> EarlyStopping { get; } = new("--early-stopping") { Description = "Stop a neural entry after this many epochs without a better validation loss (a tenth of its training rows); 0 runs every epoch.", DefaultValueFactory = _ => MLNetFusion.AutoML.Leaderboard.FusionCandidates.Defaults.EarlyStoppingPatience };
    public static Option<string?> Json { get; } = new("--json") { Description = "Also write the result as JSON to this file." };
    public static Option<string?> TimeLimit { get; } = new("--time-limit")
    {
        Description = "A time limit (10m, 90s, 1h30m; featurization not counted). The leaderboard runs its cheapest candidates first, scales neural epochs to the time left, " +
            "skips and lists candidates that would not finish, and recommends from what finished; the sweep starts no trial after it.",
    };

    /// <summary>Reads a duration as the command line writes it: <c>90s</c>, <c>10m</c>, <c>1h30m</c>, or a number of seconds.</summary>
    /// <exception cref="ArgumentException">Not a positive duration; the message shows the forms.</exception>
    public static TimeSpan? Duration(string? text, string option)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var t = text.Trim().ToLowerInvariant();
        TimeSpan total = TimeSpan.Zero;
        if (double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)) total = TimeSpan.FromSeconds(seconds);
        else
        {
            var parts = System.Text.RegularExpressions.Regex.Matches(t, @"(\d+(?:\.\d+)?)\s*(h|m|s)");
            if (parts.Count == 0 || string.Concat(parts.Select(m => m.Value)).Replace(" ", "") != t.Replace(" ", "")) total = TimeSpan.Zero;
            else
                foreach (System.Text.RegularExpressions.Match m in parts)
                {
                    double v = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                    total += m.Groups[2].Value switch { "h" => TimeSpan.FromHours(v), "m" => TimeSpan.FromMinutes(v), _ => TimeSpan.FromSeconds(v) };
                }
        }
        if (!(total > TimeSpan.Zero))
            throw new ArgumentException($"{option} '{text}' is not a positive duration." + Environment.NewLine + $"Hint: write it as 90s, 10m, 1h30m or a number of seconds, e.g. {option} 10m.");
        return total;
    }
}
