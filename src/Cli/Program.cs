using System.CommandLine;
using MLNetFusion.Cli.Commands;

// mlnetfusion: one file per command under Commands/; `mlnetfusion` alone prints this help, `mlnetfusion run` is the main job.
var root = new RootCommand("MLNetFusion: multimodal classification for ML.NET. Start with `mlnetfusion run` (the leaderboard on a generated dataset) or `mlnetfusion leaderboard --train your.csv --label COLUMN`.")
{
    RunCommand.Create(), AvDigitsCommand.Create(), LeaderboardCommand.Create(), SweepCommand.Create(), FitCommand.Create(),
    PredictCommand.Create(), EvaluateCommand.Create(), ExportCommand.Create(), SampleCommand.Create(), WorkerCommand.Create(), DoctorCommand.Create(),
};
// No command: the usage, as every tool prints (the main job writes data and models, so it is never started by accident).
if (args.Length == 0) args = new[] { "--help" };
try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception ex) when (ex is not OutOfMemoryException)
{
    // User errors carry their own message and Hint line; ML.NET and the task library wrap some ("… worker encountered
    // exception", "Event we were waiting on was subject to an exception"): the error shown is the innermost one with a Hint.
    var inner = ex;
    while (inner.InnerException != null) inner = inner.InnerException;
    for (var e = ex; e != null; e = e.InnerException)
        if (e.Message.Contains("Hint:", StringComparison.Ordinal)) { ex = e; break; }
    Console.Error.WriteLine("Error: " + UserMessage(ex));
    if (inner != ex) Console.Error.WriteLine("Cause: " + UserMessage(inner));
    if (Environment.GetEnvironmentVariable("MLNETFUSION_DEBUG") == "1") Console.Error.WriteLine(ex);
    return 1;
}

/// <summary>
/// An exception's message for a command-line user: .NET appends "(Parameter 'x')" and "Actual value was …" to argument
/// errors, which name a C# parameter the user never wrote; those suffixes are removed.
/// </summary>
static string UserMessage(Exception ex)
{
    var message = ex.Message;
    if (ex is ArgumentOutOfRangeException { ActualValue: { } actual })
    {
        int at = message.LastIndexOf("Actual value was " + actual, StringComparison.Ordinal);
        if (at >= 0) message = message[..at].TrimEnd();
    }
    if (ex is ArgumentException { ParamName: { } name })
        message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
    return message;
}
