using System.CommandLine;
using MLNetFusion.Samples.Bench;
using MLNetFusion.Samples.Cli;
using MLNetFusion.Samples.Data;
using MLNetFusion.Samples.Evaluation;
using MLNetFusion.Samples.Leaderboard;
using MLNetFusion.Samples.Pipelines;
using MLNetFusion.Samples.Samples;

// mlnetfusion [run]   : generate the default dataset, train every fusion family, print the leaderboard, write a chart.
// mlnetfusion leaderboard|sweep|fit --train T.csv [--test S.csv] --label COL [--group COL] [--image COL]...: your own CSV (roles inferred).
// mlnetfusion avdigits: the same leaderboard on ../shared/data/avdigits (real data; see its README for attribution).
// mlnetfusion sweep   : AutoML-style search over fusion families within a time budget (live leaderboard, chart).
// mlnetfusion bench   : benchmarks, one JSON object per line.
// mlnetfusion sample <name>: run one of the documented samples.
// mlnetfusion predict --model m.zip --input rows.csv --output predictions.csv: serve a saved model (a second process).
// mlnetfusion evaluate --model m.zip --data rows.csv [--group COLUMN] [--json FILE] [--chart FILE]: the modality report.
// --group COLUMN on run, avdigits and sweep: judge by generalisation to groups (speakers, sites) the model did not train on.
var dataOption = new Option<string>("--data") { Description = "Dataset folder. 'run' generates the default dataset there if missing.", DefaultValueFactory = _ => Path.Combine("artifacts", "data", "synthetic") };
var epochsOption = new Option<int>("--epochs") { Description = "Epochs for the neural fusion families.", DefaultValueFactory = _ => Candidates.Epochs };
var chartOption = new Option<string>("--chart") { Description = "Where to write the leaderboard chart (PNG).", DefaultValueFactory = _ => Path.Combine("artifacts", "leaderboard.png") };
var seedOption = new Option<int>("--seed") { Description = "MLContext seed.", DefaultValueFactory = _ => 1 };
var groupOption = new Option<string?>("--group") { Description = "Group column (speaker, site): also score every entry by leave-one-group-out on the training file, and rank by it." };
var jsonOption = new Option<string?>("--json") { Description = "Also write the result as JSON to this file." };

int RunSynthetic(ParseResult r)
{
    var folder = SyntheticMultimodalDataset.EnsureGenerated(r.GetValue(dataOption)!);
    var group = r.GetValue(groupOption);
    var ds = MultimodalDataset.Synthetic(folder, group);
    MainJob.Run(ds, r.GetValue(chartOption)!, r.GetValue(epochsOption), r.GetValue(seedOption), "MLNetFusion: generated default dataset (test split)",
        jsonPath: r.GetValue(jsonOption), leaveOneGroupOut: group != null);
    return 0;
}
var run = new Command("run", "Generate the default dataset (if needed), train every fusion family and print the leaderboard.") { dataOption, epochsOption, chartOption, seedOption, groupOption, jsonOption };
run.SetAction(RunSynthetic);

var avdigitsData = new Option<string>("--data") { Description = "The avdigits folder.", DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "avdigits") };
bool AvDigitsMissing(string folder)
{
    if (File.Exists(Path.Combine(folder, "train.csv"))) return false;
    Console.Error.WriteLine($"avdigits not found at '{Path.GetFullPath(folder)}'. Hint: pass --data <folder containing train.csv>.");
    return true;
}
var avdigits = new Command("avdigits", "Leaderboard on avdigits (FSDD spoken digits + corrupted MNIST); --group Speaker adds leave-one-speaker-out.")
    { avdigitsData, epochsOption, chartOption, seedOption, groupOption, jsonOption };
avdigits.SetAction(r =>
{
    var folder = r.GetValue(avdigitsData)!;
    if (AvDigitsMissing(folder)) return 2;
    var group = r.GetValue(groupOption);
    var ds = group == null || group == "Speaker" ? MultimodalDataset.AvDigits(folder)
        : MultimodalDataset.FromCsv(Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv"), "Label", group);
    MainJob.Run(ds, r.GetValue(chartOption)!, r.GetValue(epochsOption), r.GetValue(seedOption), "MLNetFusion: avdigits (test split)",
        jsonPath: r.GetValue(jsonOption), leaveOneGroupOut: group != null);
    return 0;
});

var benchData = new Option<string?>("--avdigits") { Description = "avdigits folder for the audio throughput benchmark (else generated clips)." };
var benchOnly = new Option<string[]>("--only") { Description = "Run only these benchmarks (audio, fit, transform, latency, infer, streaming, soak; sweep, group-sweep and late-logo run only when named: they need --avdigits; sweep takes about 15 minutes, group-sweep about an hour).", AllowMultipleArgumentsPerToken = true };
var benchRows = new Option<int>("--streaming-rows") { Description = "Rows for the large streaming-fit measurement.", DefaultValueFactory = _ => 1_000_000 };
var benchSweepMinutes = new Option<double>("--sweep-minutes") { Description = "Time budget of the sweep benchmark.", DefaultValueFactory = _ => 10 };
var benchLateMembers = new Option<string>("--late-members") { Description = "Members of the late-logo benchmark: linear (L-BFGS, minutes) or cnn (the leaderboard's CNN members, an hour).", DefaultValueFactory = _ => "linear" };
var benchLateCombiners = new Option<string[]>("--late-combiners") { Description = "Combiners of the late-logo benchmark (default: all).", AllowMultipleArgumentsPerToken = true };
var bench = new Command("bench", "Benchmarks; prints one JSON object per line.") { benchData, benchOnly, benchRows, benchSweepMinutes, benchLateMembers, benchLateCombiners };
bench.SetAction(r => Benchmarks.Run(r.GetValue(benchData), r.GetValue(benchOnly) ?? Array.Empty<string>(), r.GetValue(benchRows), r.GetValue(benchSweepMinutes),
    r.GetValue(benchLateMembers)!, r.GetValue(benchLateCombiners)));

var modelOption = new Option<string>("--model") { Description = "A file written by mlContext.Model.SaveFusionModel.", Required = true };
var inputOption = new Option<string>("--input") { Description = "CSV with a header holding the model's input columns.", Required = true };
var outputOption = new Option<string>("--output") { Description = "Where to write the predictions (CSV).", Required = true };
var columnsOption = new Option<string[]>("--columns") { Description = "Output columns to write.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => new[] { "PredictedLabel", "Score" } };
var predict = new Command("predict", "Load a saved fusion model in this process and predict a CSV (serving).") { modelOption, inputOption, outputOption, columnsOption };
predict.SetAction(r =>
{
    int rows = MLNetFusion.Samples.Serving.ModelServer.Predict(r.GetValue(modelOption)!, r.GetValue(inputOption)!, r.GetValue(outputOption)!, r.GetValue(columnsOption)!);
    Console.WriteLine($"Wrote {rows} predictions to {r.GetValue(outputOption)}.");
    return 0;
});

var sweepDataset = new Option<string>("--dataset") { Description = "Without --train: synthetic (generated, default) or avdigits.", DefaultValueFactory = _ => "synthetic" };
var sweepData = new Option<string?>("--data") { Description = "Dataset folder for --dataset (default: artifacts/data/synthetic, or ../shared/data/avdigits)." };
var sweepMinutes = new Option<double>("--minutes") { Description = "Time budget in minutes.", DefaultValueFactory = _ => 5 };
var sweepTrials = new Option<int?>("--trials") { Description = "Trial budget (optional)." };
var sweepTuner = new Option<string>("--tuner") { Description = "cost-aware (successive halving, default), random or grid.", DefaultValueFactory = _ => "cost-aware" };
var sweepChart = new Option<string>("--chart") { Description = "Where to write the metric-vs-time chart (PNG).", DefaultValueFactory = _ => Path.Combine("artifacts", "sweep.png") };
var sweepFolds = new Option<int>("--folds") { Description = "Validate trials by k-fold cross-validation (grouped with --group; with as many folds as groups, leave-one-group-out). 0: one 20% hold-out (whole groups with --group).", DefaultValueFactory = _ => 0 };
var sweepDataOptions = new DataOptions();
var sweep = new Command("sweep", "Search over fusion families, modality subsets and hyperparameters within a time budget; live leaderboard and a chart.")
    { sweepDataset, sweepData, sweepMinutes, sweepTrials, sweepTuner, sweepChart, seedOption, sweepFolds, jsonOption };
foreach (var o in sweepDataOptions.All) sweep.Options.Add(o);
sweep.SetAction(r =>
{
    var group = r.GetValue(sweepDataOptions.Group);
    MultimodalDataset ds;
    string title;
    if (sweepDataOptions.HasTrain(r)) { ds = sweepDataOptions.Build(r); title = "MLNetFusion sweep: " + Path.GetFileName(r.GetValue(sweepDataOptions.Train)); }
    else
    {
        bool av = r.GetValue(sweepDataset) == "avdigits";
        var folder = r.GetValue(sweepData) ?? (av ? Path.Combine("..", "shared", "data", "avdigits") : Path.Combine("artifacts", "data", "synthetic"));
        if (av && AvDigitsMissing(folder)) return 2;
        ds = av ? (group == null || group == "Speaker" ? MultimodalDataset.AvDigits(folder) : MultimodalDataset.FromCsv(Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv"), "Label", group))
            : MultimodalDataset.Synthetic(SyntheticMultimodalDataset.EnsureGenerated(folder), group);
        title = av ? "MLNetFusion sweep: avdigits" : "MLNetFusion sweep: generated default dataset";
    }
    SweepJob.Run(ds, TimeSpan.FromMinutes(r.GetValue(sweepMinutes)), r.GetValue(sweepTrials), SweepJob.Tuner(r.GetValue(sweepTuner)!), r.GetValue(seedOption),
        r.GetValue(sweepChart)!, title, r.GetValue(sweepFolds), r.GetValue(jsonOption), grouped: group != null);
    return 0;
});

var boardData = new DataOptions();
var leaderboard = new Command("leaderboard", "Your own CSV: infer the column roles, train every fusion family and print the leaderboard (--group adds leave-one-group-out).")
    { epochsOption, chartOption, seedOption, jsonOption };
foreach (var o in boardData.All) leaderboard.Options.Add(o);
leaderboard.SetAction(r =>
{
    var ds = boardData.Build(r);
    MainJob.Run(ds, r.GetValue(chartOption)!, r.GetValue(epochsOption), r.GetValue(seedOption), "MLNetFusion: " + Path.GetFileName(r.GetValue(boardData.Train)) +
        (ds.TestPath != null ? " (test file)" : $" ({ds.TestFraction:P0} held out)"), jsonPath: r.GetValue(jsonOption), leaveOneGroupOut: ds.GroupColumn != null);
    return 0;
});

var fitData = new DataOptions();
var fitFamily = new Option<string>("--family") { Description = "merge, network, cross-modal, late, early, or best (the sweep's choice within --minutes).", DefaultValueFactory = _ => "merge" };
var fitOutput = new Option<string>("--output") { Description = "Where to save the fitted pipeline (featurization included) for predict and evaluate.", Required = true };
var fitMinutes = new Option<double>("--minutes") { Description = "Time budget of the sweep with --family best.", DefaultValueFactory = _ => 5 };
var fit = new Command("fit", "Your own CSV: train one family (or the sweep's best) with featurization and save it.") { fitFamily, fitOutput, fitMinutes, epochsOption, seedOption };
foreach (var o in fitData.All) fit.Options.Add(o);
fit.SetAction(r =>
{
    var family = r.GetValue(fitFamily)!;
    if (!FitJob.Families.Contains(family) && family != "crossmodal")
    {
        Console.Error.WriteLine($"Unknown family '{family}'. Hint: use one of {string.Join(", ", FitJob.Families)}.");
        return 2;
    }
    FitJob.Run(fitData.Build(r), family, r.GetValue(fitOutput)!, r.GetValue(epochsOption), r.GetValue(seedOption), r.GetValue(fitMinutes));
    return 0;
});

var evalModel = new Option<string>("--model") { Description = "A file written by mlContext.Model.SaveFusionModel (with its input schema).", Required = true };
var evalData = new Option<string>("--data") { Description = "CSV with a header: the model's input columns and the label.", Required = true };
var evalGroup = new Option<string?>("--group") { Description = "Group column of the CSV (speaker, site): metrics per group, the worst group and the spread." };
var evalChart = new Option<string?>("--chart") { Description = "Where to write the chart (PNG): accuracy per modality subset and the reliability diagram." };
var evalLabel = new Option<string>("--label") { Description = "The label column.", DefaultValueFactory = _ => "Label" };
var evalModalities = new Option<string[]?>("--modalities") { Description = "Modality columns to hide and permute (default: the fusion model's own; required for early fusion).", AllowMultipleArgumentsPerToken = true };
var evalPermutations = new Option<int>("--permutations") { Description = "Shuffles per modality for permutation importance.", DefaultValueFactory = _ => 5 };
var evaluate = new Command("evaluate", "Print the modality report of a saved model on a labelled CSV: every modality subset, importance, calibration, per group.")
    { evalModel, evalData, evalGroup, jsonOption, evalChart, evalLabel, evalModalities, evalPermutations };
evaluate.SetAction(r =>
{
    EvaluateJob.Run(r.GetValue(evalModel)!, r.GetValue(evalData)!, r.GetValue(evalGroup), r.GetValue(jsonOption), r.GetValue(evalChart), r.GetValue(evalLabel)!,
        r.GetValue(evalModalities), r.GetValue(evalPermutations));
    return 0;
});

var sampleName = new Argument<string>("name") { Description = "early-fusion-avdigits | neural-fusion | late-fusion | audio | pretrained-image | save-and-serve | sweep | modality-report" };
var sample = new Command("sample", "Run a documented sample.") { sampleName };
sample.SetAction(r => SampleRunner.Run(r.GetValue(sampleName)!));

var root = new RootCommand("MLNetFusion: multimodal classification for ML.NET.")
    { run, avdigits, leaderboard, sweep, fit, evaluate, bench, sample, predict, dataOption, epochsOption, chartOption, seedOption, groupOption, jsonOption };
root.SetAction(RunSynthetic);   // no command: the main job, as 'run'
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
