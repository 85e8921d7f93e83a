using System.CommandLine;
using MLNetFusion.Cli.Leaderboard;
using MLNetFusion.Datasets;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion run</c> (also what <c>mlnetfusion</c> alone runs): the leaderboard on the generated default dataset.</summary>
internal static class RunCommand
{
    public const string Name = "run";

    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Dataset folder; the default dataset is generated there if missing.", DefaultValueFactory = _ => DefaultPaths.SyntheticData };
        var command = new Command(Name, "Generate the default dataset (if needed), train every fusion family and print the leaderboard (the default command).")
            { data, CommonOptions.Epochs, CommonOptions.LeaderboardChart, CommonOptions.Seed, CommonOptions.Group, CommonOptions.Json, CommonOptions.EarlyStopping, CommonOptions.RunFolds, CommonOptions.Bagging, CommonOptions.TimeLimit };
        command.SetAction(r =>
        {
            var timeLimit = CommonOptions.Duration(r.GetValue(CommonOptions.TimeLimit), "--time-limit");   // before any work: a bad value is an error at once
            var group = r.GetValue(CommonOptions.Group);
            var ds = MultimodalDataset.Synthetic(SyntheticMultimodalDataset.EnsureGenerated(r.GetValue(data)!), group);
            MainJob.Run(ds, r.GetValue(CommonOptions.LeaderboardChart)!, r.GetValue(CommonOptions.Epochs), r.GetValue(CommonOptions.Seed),
                "MLNetFusion: generated default dataset (test split)", jsonPath: r.GetValue(CommonOptions.Json), leaveOneGroupOut: group != null, earlyStopping: r.GetValue(CommonOptions.EarlyStopping), folds: r.GetValue(CommonOptions.RunFolds), bagged: r.GetValue(CommonOptions.Bagging),
                timeLimit: timeLimit);
            return 0;
        });
        return command;
    }
}
