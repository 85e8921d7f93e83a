using System.CommandLine;
using MLNetFusion.Cli.Commands;

// mlnetfusion: one file per command under Commands/; `mlnetfusion` alone runs `run`, the main job.
var root = new RootCommand("MLNetFusion: multimodal classification for ML.NET. Without a command: run (the leaderboard on the generated default dataset).")
{
    RunCommand.Create(), AvDigitsCommand.Create(), LeaderboardCommand.Create(), SweepCommand.Create(), FitCommand.Create(),
    PredictCommand.Create(), EvaluateCommand.Create(), SampleCommand.Create(), BenchCommand.Create(),
};
// No command (or only options): the main job.
if (args.Length == 0 || (args[0].StartsWith('-') && args[0] is not ("-h" or "--help" or "-?" or "--version")))
    args = args.Prepend(RunCommand.Name).ToArray();
try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception ex) when (ex is not OutOfMemoryException)
{
    // User errors carry their own message and Hint line; ML.NET wraps some in a worker exception, so the innermost one is shown too.
    var inner = ex;
    while (inner.InnerException != null) inner = inner.InnerException;
    Console.Error.WriteLine("Error: " + ex.Message);
    if (inner != ex) Console.Error.WriteLine("Cause: " + inner.Message);
    if (Environment.GetEnvironmentVariable("MLNETFUSION_DEBUG") == "1") Console.Error.WriteLine(ex);
    return 1;
}
