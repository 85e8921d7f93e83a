using System.CommandLine;
using MLNetFusion.Cli.Evaluation;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion evaluate --model m.zip --data rows.csv</c>: the modality report of a saved model.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A file written by mlContext.Model.SaveFusionModel (with its input schema).", Required = true };
        var data = new Option<string>("--data") { Description = "CSV with a header: the model's input columns and the label.", Required = true };
        var group = new Option<string?>("--group") { Description = "Group column of the CSV (speaker, site): metrics per group, the worst group and the spread." };
        var chart = new Option<string?>("--chart") { Description = "Where to write the chart (PNG): accuracy per modality subset and the reliability diagram." };
        var label = new Option<string>("--label") { Description = "The label column.", DefaultValueFactory = _ => "Label" };
        var modalities = new Option<string[]?>("--modalities") { Description = "Modality columns to hide and permute (default: the fusion model's own; required for early fusion).", AllowMultipleArgumentsPerToken = true };
        var permutations = new Option<int>("--permutations") { Description = "Shuffles per modality for permutation importance.", DefaultValueFactory = _ => 5 };
        var command = new Command("evaluate", "Print the modality report of a saved model on a labelled CSV: every modality subset, importance, calibration, per group.")
            { model, data, group, CommonOptions.Json, chart, label, modalities, permutations };
        command.SetAction(r =>
        {
            EvaluateJob.Run(r.GetValue(model)!, r.GetValue(data)!, r.GetValue(group), r.GetValue(CommonOptions.Json), r.GetValue(chart), r.GetValue(label)!,
                r.GetValue(modalities), r.GetValue(permutations));
            return 0;
        });
        return command;
    }
}
