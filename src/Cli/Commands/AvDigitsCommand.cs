using System.CommandLine;
using MLNetFusion.Cli.Leaderboard;
using MLNetFusion.Datasets;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion avdigits</c>: the leaderboard on avdigits; <c>--group Speaker</c> adds leave-one-speaker-out.</summary>
internal static class AvDigitsCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "The avdigits folder.", DefaultValueFactory = _ => DefaultPaths.AvDigits };
        var command = new Command("avdigits", "Leaderboard on avdigits (FSDD spoken digits + corrupted MNIST); --group Speaker adds leave-one-speaker-out.")
            { data, CommonOptions.Epochs, CommonOptions.LeaderboardChart, CommonOptions.Seed, CommonOptions.Group, CommonOptions.Json, CommonOptions.EarlyStopping, CommonOptions.Folds, CommonOptions.Bagging };
        command.SetAction(r =>
        {
            var group = r.GetValue(CommonOptions.Group);
            var ds = MultimodalDataset.AvDigits(r.GetValue(data)!, group);
            MainJob.Run(ds, r.GetValue(CommonOptions.LeaderboardChart)!, r.GetValue(CommonOptions.Epochs), r.GetValue(CommonOptions.Seed), "MLNetFusion: avdigits (test split)",
                jsonPath: r.GetValue(CommonOptions.Json), leaveOneGroupOut: group != null, earlyStopping: r.GetValue(CommonOptions.EarlyStopping), folds: r.GetValue(CommonOptions.Folds), bagged: r.GetValue(CommonOptions.Bagging));
            return 0;
        });
        return command;
    }
}
