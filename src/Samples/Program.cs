using System.CommandLine;
using MLNetFusion.Samples.Bench;
using MLNetFusion.Samples.Data;
using MLNetFusion.Samples.Leaderboard;
using MLNetFusion.Samples.Pipelines;
using MLNetFusion.Samples.Samples;

// mlnetfusion [run]   : generate the default dataset, train every fusion family, print the leaderboard, write a chart.
// mlnetfusion avdigits: the same leaderboard on ../shared/data/avdigits (real data; see its README for attribution).
// mlnetfusion sweep   : AutoML-style search over fusion families within a time budget (live leaderboard, chart).
// mlnetfusion bench   : benchmarks, one JSON object per line.
// mlnetfusion sample <name>: run one of the documented samples.
// mlnetfusion predict --model m.zip --input rows.csv --output predictions.csv: serve a saved model (a second process).
var dataOption = new Option<string>("--data") { Description = "Dataset folder. 'run' generates the default dataset there if missing.", DefaultValueFactory = _ => Path.Combine("artifacts", "data", "synthetic") };
var epochsOption = new Option<int>("--epochs") { Description = "Epochs for the neural fusion families.", DefaultValueFactory = _ => Candidates.Epochs };
var chartOption = new Option<string>("--chart") { Description = "Where to write the leaderboard chart (PNG).", DefaultValueFactory = _ => Path.Combine("artifacts", "leaderboard.png") };
var seedOption = new Option<int>("--seed") { Description = "MLContext seed.", DefaultValueFactory = _ => 1 };

var run = new Command("run", "Generate the default dataset (if needed), train every fusion family and print the leaderboard.") { dataOption, epochsOption, chartOption, seedOption };
run.SetAction(r =>
{
    var folder = SyntheticMultimodalDataset.EnsureGenerated(r.GetValue(dataOption)!);
    MainJob.Run(MultimodalDataset.Synthetic(folder), r.GetValue(chartOption)!, r.GetValue(epochsOption), r.GetValue(seedOption), "MLNetFusion: generated default dataset (test split)");
    return 0;
});

var avdigitsData = new Option<string>("--data") { Description = "The avdigits folder.", DefaultValueFactory = _ => Path.Combine("..", "shared", "data", "avdigits") };
var avdigits = new Command("avdigits", "Leaderboard on avdigits (FSDD spoken digits + corrupted MNIST).") { avdigitsData, epochsOption, chartOption, seedOption };
avdigits.SetAction(r =>
{
    var folder = r.GetValue(avdigitsData)!;
    if (!File.Exists(Path.Combine(folder, "train.csv")))
    {
        Console.Error.WriteLine($"avdigits not found at '{Path.GetFullPath(folder)}'. Hint: pass --data <folder containing train.csv>.");
        return 2;
    }
    MainJob.Run(MultimodalDataset.AvDigits(folder), r.GetValue(chartOption)!, r.GetValue(epochsOption), r.GetValue(seedOption), "MLNetFusion: avdigits (test split)");
    return 0;
});

var benchData = new Option<string?>("--avdigits") { Description = "avdigits folder for the audio throughput benchmark (else generated clips)." };
var benchOnly = new Option<string[]>("--only") { Description = "Run only these benchmarks (audio, fit, transform, latency, streaming, soak; sweep runs only when named: it needs --avdigits and about 15 minutes).", AllowMultipleArgumentsPerToken = true };
var benchRows = new Option<int>("--streaming-rows") { Description = "Rows for the large streaming-fit measurement.", DefaultValueFactory = _ => 1_000_000 };
var benchSweepMinutes = new Option<double>("--sweep-minutes") { Description = "Time budget of the sweep benchmark.", DefaultValueFactory = _ => 10 };
var bench = new Command("bench", "Benchmarks; prints one JSON object per line.") { benchData, benchOnly, benchRows, benchSweepMinutes };
bench.SetAction(r => Benchmarks.Run(r.GetValue(benchData), r.GetValue(benchOnly) ?? Array.Empty<string>(), r.GetValue(benchRows), r.GetValue(benchSweepMinutes)));

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

var sweepDataset = new Option<string>("--dataset") { Description = "synthetic (generated, default) or avdigits.", DefaultValueFactory = _ => "synthetic" };
var sweepData = new Option<string?>("--data") { Description = "Dataset folder (default: artifacts/data/synthetic, or ../shared/data/avdigits)." };
var sweepMinutes = new Option<double>("--minutes") { Description = "Time budget in minutes.", DefaultValueFactory = _ => 5 };
var sweepTrials = new Option<int?>("--trials") { Description = "Trial budget (optional)." };
var sweepTuner = new Option<string>("--tuner") { Description = "cost-aware (successive halving, default), random or grid.", DefaultValueFactory = _ => "cost-aware" };
var sweepChart = new Option<string>("--chart") { Description = "Where to write the metric-vs-time chart (PNG).", DefaultValueFactory = _ => Path.Combine("artifacts", "sweep.png") };
var sweep = new Command("sweep", "Search over fusion families and hyperparameters within a time budget; live leaderboard and a chart.")
    { sweepDataset, sweepData, sweepMinutes, sweepTrials, sweepTuner, sweepChart, seedOption };
sweep.SetAction(r =>
{
    bool av = r.GetValue(sweepDataset) == "avdigits";
    var folder = r.GetValue(sweepData) ?? (av ? Path.Combine("..", "shared", "data", "avdigits") : Path.Combine("artifacts", "data", "synthetic"));
    if (av && !File.Exists(Path.Combine(folder, "train.csv")))
    {
        Console.Error.WriteLine($"avdigits not found at '{Path.GetFullPath(folder)}'. Hint: pass --data <folder containing train.csv>.");
        return 2;
    }
    var ds = av ? MultimodalDataset.AvDigits(folder) : MultimodalDataset.Synthetic(SyntheticMultimodalDataset.EnsureGenerated(folder));
    SweepJob.Run(ds, TimeSpan.FromMinutes(r.GetValue(sweepMinutes)), r.GetValue(sweepTrials), SweepJob.Tuner(r.GetValue(sweepTuner)!), r.GetValue(seedOption),
        r.GetValue(sweepChart)!, av ? "MLNetFusion sweep: avdigits" : "MLNetFusion sweep: generated default dataset");
    return 0;
});

var sampleName = new Argument<string>("name") { Description = "early-fusion-avdigits | neural-fusion | late-fusion | audio | pretrained-image | save-and-serve | sweep" };
var sample = new Command("sample", "Run a documented sample.") { sampleName };
sample.SetAction(r => SampleRunner.Run(r.GetValue(sampleName)!));

var root = new RootCommand("MLNetFusion: multimodal classification for ML.NET.") { run, avdigits, sweep, bench, sample, predict, dataOption, epochsOption, chartOption, seedOption };
root.SetAction(r =>
{
    var folder = SyntheticMultimodalDataset.EnsureGenerated(r.GetValue(dataOption)!);
    MainJob.Run(MultimodalDataset.Synthetic(folder), r.GetValue(chartOption)!, r.GetValue(epochsOption), r.GetValue(seedOption), "MLNetFusion: generated default dataset (test split)");
    return 0;
});
return root.Parse(args).Invoke();
