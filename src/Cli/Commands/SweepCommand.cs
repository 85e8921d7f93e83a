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
        var minutes = new Option<double>("--minutes") { Description = "Time budget in minutes (--time-limit says the same as 10m, 90s or 1h30m, and wins).", DefaultValueFactory = _ => 5 };
        var trials = new Option<int?>("--trials") { Description = "Trial budget (optional)." };
        var tuner = new Option<string>("--tuner") { Description = "cost-aware (successive halving, default), random or grid.", DefaultValueFactory = _ => "cost-aware" };
        var chart = new Option<string>("--chart") { Description = "Where to write the metric-vs-time chart (PNG).", DefaultValueFactory = _ => DefaultPaths.Artifact("sweep.png") };
        var folds = new Option<int>("--folds") { Description = "Validate trials by k-fold cross-validation (grouped with --group; with as many folds as groups, leave-one-group-out). 0: one 20% hold-out (whole groups with --group).", DefaultValueFactory = _ => 0 };
        var cluster = new Option<string?>("--cluster") { Description = "Run the trials on a cluster of `mlnetfusion worker` processes (redis://host:port): the study's state lives in the cluster, the tuner is asynchronous successive halving." };
        var study = new Option<string?>("--study") { Description = "With --cluster: the study's id (running the same command again resumes it). Default: a new id." };
        var models = new Option<string?>("--models") { Description = "With --cluster: a folder every worker can write, for the trial models and the refitted model." };
        var clusterTimeout = new Option<int>("--cluster-timeout")
        {
            Description = "With --cluster: seconds to wait for a worker to register (workers load .NET, libtorch and Orleans first; a busy machine needs longer).",
            DefaultValueFactory = _ => (int)MLNetFusion.Distributed.FusionClusterConnection.DefaultWaitForCluster.TotalSeconds,
        };
        clusterTimeout.Validators.Add(v => { if (v.GetValueOrDefault<int>() <= 0) v.AddError("--cluster-timeout must be a positive number of seconds."); });
        var data = new DataOptions();
        var command = new Command("sweep", "Search over fusion families, modality subsets and hyperparameters within a time budget; live leaderboard and a chart.")
            { dataset, folder, minutes, trials, tuner, chart, CommonOptions.Seed, folds, CommonOptions.Json, cluster, study, models, clusterTimeout, CommonOptions.TimeLimit, WorkerCommand.ClusterId };
        foreach (var o in data.All) command.Options.Add(o);
        command.SetAction(r =>
        {
            var budget = CommonOptions.Duration(r.GetValue(CommonOptions.TimeLimit), "--time-limit") ?? TimeSpan.FromMinutes(r.GetValue(minutes));
            var group = r.GetValue(data.Group);
            if (r.GetValue(cluster) is string address)
            {
                string kind = data.HasTrain(r) ? "csv" : r.GetValue(dataset)!;
                string trainPath = data.HasTrain(r) ? r.GetValue(data.Train)!
                    : kind == "avdigits" ? Path.Combine(r.GetValue(folder) ?? DefaultPaths.AvDigits, "train.csv")
                    : kind == "synthetic" ? Path.Combine(SyntheticMultimodalDataset.EnsureGenerated(r.GetValue(folder) ?? DefaultPaths.SyntheticData), "train.csv")
                    : throw new ArgumentException($"Unknown dataset '{kind}'." + Environment.NewLine + "Hint: use --dataset synthetic or avdigits, or --train your.csv.");
                var spec = new MLNetFusion.Distributed.FusionStudySpec
                {
                    TrainPath = Path.GetFullPath(trainPath), Kind = kind, Label = r.GetValue(data.Label)!, Group = kind == "avdigits" ? group ?? "Speaker" : group,
                    Roles = data.Roles(r), DataFolder = r.GetValue(data.DataFolder), Folds = r.GetValue(folds),
                    Seed = r.GetValue(CommonOptions.Seed), MaxTrials = r.GetValue(trials), TimeBudgetSeconds = budget.TotalSeconds,
                    ModelFolder = Path.GetFullPath(r.GetValue(models) ?? DefaultPaths.Artifact("studies")),
                };
                return DistributedSweepJob.Run(spec, address, r.GetValue(WorkerCommand.ClusterId)!, r.GetValue(study) ?? $"sweep-{DateTime.UtcNow:yyyyMMdd-HHmmss}", r.GetValue(CommonOptions.Json),
                    TimeSpan.FromSeconds(r.GetValue(clusterTimeout)));
            }
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
            SweepJob.Run(ds, budget, r.GetValue(trials), SweepJob.Tuner(r.GetValue(tuner)!), r.GetValue(CommonOptions.Seed),
                r.GetValue(chart)!, title, r.GetValue(folds), r.GetValue(CommonOptions.Json), grouped: group != null);
            return 0;
        });
        return command;
    }
}
