using System.CommandLine;
using MLNetFusion.Cli.Leaderboard;
using MLNetFusion.Datasets;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion sweep</c>: search over families, modality subsets and hyperparameters within a budget.</summary>
internal static class SweepCommand
{
    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "Without --train: synthetic (generated, default) or avdigits.", DefaultValueFactory = _ => "synthetic" };
        var folder = new Option<string?>("--data") { Description = $"Dataset folder for --dataset (default: {DefaultPaths.SyntheticData}, or {DefaultPaths.AvDigits})." };
        var minutes = new Option<double>("--minutes") { Description = "Time budget in minutes.", DefaultValueFactory = _ => 5 };
        var trials = new Option<int?>("--trials") { Description = "Trial budget (optional)." };
        var tuner = new Option<string>("--tuner") { Description = "cost-aware (successive halving, default), random or grid.", DefaultValueFactory = _ => "cost-aware" };
        var chart = new Option<string>("--chart") { Description = "Where to write the metric-vs-time chart (PNG).", DefaultValueFactory = _ => DefaultPaths.Artifact("sweep.png") };
        var folds = new Option<int>("--folds") { Description = "Validate trials by k-fold cross-validation (grouped with --group; with as many folds as groups, leave-one-group-out). 0: one 20% hold-out (whole groups with --group).", DefaultValueFactory = _ => 0 };
        var data = new DataOptions();
        var command = new Command("sweep", "Search over fusion families, modality subsets and hyperparameters within a time budget; live leaderboard and a chart.")
            { dataset, folder, minutes, trials, tuner, chart, CommonOptions.Seed, folds, CommonOptions.Json };
        foreach (var o in data.All) command.Options.Add(o);
        command.SetAction(r =>
        {
            var group = r.GetValue(data.Group);
            MultimodalDataset ds;
            string title;
            if (data.HasTrain(r)) { ds = data.Build(r); title = "MLNetFusion sweep: " + Path.GetFileName(r.GetValue(data.Train)); }
            else if (r.GetValue(dataset) == "avdigits") { ds = MultimodalDataset.AvDigits(r.GetValue(folder) ?? DefaultPaths.AvDigits, group); title = "MLNetFusion sweep: avdigits"; }
            else if (r.GetValue(dataset) == "synthetic")
            {
                ds = MultimodalDataset.Synthetic(SyntheticMultimodalDataset.EnsureGenerated(r.GetValue(folder) ?? DefaultPaths.SyntheticData), group);
                title = "MLNetFusion sweep: generated default dataset";
            }
            else throw new ArgumentException($"Unknown dataset '{r.GetValue(dataset)}'." + Environment.NewLine + "Hint: use --dataset synthetic or avdigits, or --train your.csv.");
            SweepJob.Run(ds, TimeSpan.FromMinutes(r.GetValue(minutes)), r.GetValue(trials), SweepJob.Tuner(r.GetValue(tuner)!), r.GetValue(CommonOptions.Seed),
                r.GetValue(chart)!, title, r.GetValue(folds), r.GetValue(CommonOptions.Json), grouped: group != null);
            return 0;
        });
        return command;
    }
}
