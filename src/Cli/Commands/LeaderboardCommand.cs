using System.CommandLine;
using MLNetFusion.Cli.Leaderboard;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion leaderboard --train T.csv …</c>: your own CSV, roles inferred, every family trained.</summary>
internal static class LeaderboardCommand
{
    public static Command Create()
    {
        var data = new DataOptions();
        var command = new Command("leaderboard", "Your own CSV: infer the column roles, train every fusion family and print the leaderboard (--group adds leave-one-group-out).")
            { CommonOptions.Epochs, CommonOptions.LeaderboardChart, CommonOptions.Seed, CommonOptions.Json, CommonOptions.EarlyStopping, CommonOptions.Folds, CommonOptions.Bagging, CommonOptions.TimeLimit };
        foreach (var o in data.All) command.Options.Add(o);
        command.SetAction(r =>
        {
            var timeLimit = CommonOptions.Duration(r.GetValue(CommonOptions.TimeLimit), "--time-limit");   // before any work: a bad value is an error at once
            var ds = data.Build(r);
            MainJob.Run(ds, r.GetValue(CommonOptions.LeaderboardChart)!, r.GetValue(CommonOptions.Epochs), r.GetValue(CommonOptions.Seed),
                "MLNetFusion: trained on " + Path.GetFileName(r.GetValue(data.Train)) + (ds.TestPath != null ? $", tested on {Path.GetFileName(ds.TestPath)}" : $", tested on {ds.TestFraction:P0} of its rows held out"),
                jsonPath: r.GetValue(CommonOptions.Json), leaveOneGroupOut: ds.GroupColumn != null, earlyStopping: r.GetValue(CommonOptions.EarlyStopping), folds: r.GetValue(CommonOptions.Folds), bagged: r.GetValue(CommonOptions.Bagging),
                timeLimit: timeLimit);
            return 0;
        });
        return command;
    }
}
