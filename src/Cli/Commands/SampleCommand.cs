using System.CommandLine;
using MLNetFusion.Samples;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion sample NAME</c>: run one of the documented samples.</summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = string.Join(" | ", SampleRunner.Names) };
        var epochs = new Option<int?>("--epochs") { Description = $"Epochs of the sample's networks (the sweep's most); default: the sample's own. Applies to {string.Join(", ", SampleRunner.WithEpochs)}." };
        var data = new Option<string?>("--data") { Description = $"The avdigits folder (default: found beside the repository). Applies to {string.Join(", ", SampleRunner.WithData)}." };
        var command = new Command("sample", "Run a documented sample.") { name, epochs, data };
        command.SetAction(r => SampleRunner.Run(r.GetValue(name)!, r.GetValue(epochs), r.GetValue(data)));
        return command;
    }
}
