using System.CommandLine;
using MLNetFusion.Cli.Fit;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion fit --train T.csv --family F --output m.zip</c>: train one family (or the sweep's best) and save it.</summary>
internal static class FitCommand
{
    public static Command Create()
    {
        var data = new DataOptions();
        var family = new Option<string>("--family") { Description = "merge, network, cross-modal, late, early, hybrid, or best (the leaderboard's recommendation, chosen on validation rows, by leave-one-group-out with --group: usually its ensemble).", DefaultValueFactory = _ => "merge" };
        var output = new Option<string>("--output") { Description = "Where to save the fitted pipeline (featurization included) for predict and evaluate.", Required = true };
        var command = new Command("fit", "Your own CSV: train one family (or the leaderboard's recommendation) with featurization and save it.") { family, output, CommonOptions.Epochs, CommonOptions.Seed, CommonOptions.Folds, CommonOptions.Bagging };
        foreach (var o in data.All) command.Options.Add(o);
        command.SetAction(r =>
        {
            FitJob.CheckFamily(r.GetValue(family)!);   // before reading any data
            FitJob.Run(data.Build(r), r.GetValue(family)!, r.GetValue(output)!, r.GetValue(CommonOptions.Epochs), r.GetValue(CommonOptions.Seed), r.GetValue(CommonOptions.Folds), r.GetValue(CommonOptions.Bagging));
            return 0;
        });
        return command;
    }
}
