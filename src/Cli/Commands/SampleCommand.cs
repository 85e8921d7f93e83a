using System.CommandLine;
using MLNetFusion.Samples;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion sample NAME</c>: run one of the documented samples.</summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = string.Join(" | ", SampleRunner.Names) };
        var command = new Command("sample", "Run a documented sample.") { name };
        command.SetAction(r => SampleRunner.Run(r.GetValue(name)!));
        return command;
    }
}
