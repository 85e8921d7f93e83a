using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Cli.Leaderboard;
using MLNetFusion.Datasets;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Cli.Progress;
using Spectre.Console;

namespace MLNetFusion.Cli.Fit;

/// <summary>
/// <c>mlnetfusion fit</c>: trains one family with its leaderboard defaults, or the sweep's best configuration, on the
/// training CSV (featurization included), reports its test accuracy and saves the whole pipeline for
/// <c>predict</c> and <c>evaluate</c>.
/// </summary>
public static class FitJob
{
    /// <summary>The family names <c>--family</c> accepts.</summary>
    public static readonly string[] Families = { "merge", "network", "cross-modal", "late", "early", "hybrid", "best" };

    /// <summary>Throws a clear error unless <paramref name="family"/> is a family name or <c>best</c>.</summary>
    public static void CheckFamily(string family)
    {
        if (family != "best" && !FusionFamilies.TryParse(family, out _))
            throw new ArgumentException($"Unknown family '{family}'." + Environment.NewLine + $"Hint: use one of {string.Join(", ", Families)}.");
    }

    /// <summary>
    /// Fits, evaluates on the test split, saves to <paramref name="output"/> and returns the test accuracy. The saved
    /// model is the feature chain, the trainer and <c>MapKeyToValue("PredictedLabel")</c>: it reads neither the label
    /// nor the group, its <c>PredictedLabel</c> is the label's value, and its <c>Score</c> slots are the classes sorted by value.
    /// </summary>
    public static double Run(MultimodalDataset ds, string family, string output, int epochs, int seed, int folds = FusionLeaderboardOptions.Defaults.NumberOfFolds, bool bagged = false)
    {
        CheckFamily(family);
        var ml = new MLContext(seed: seed);
        var total = System.Diagnostics.Stopwatch.StartNew();
        AnsiConsole.Write(MainJob.RolesTable(ds));
        var (rawTrain, rawTest) = ds.LoadSplits(ml);
        Console.WriteLine("Featurizing the training rows…");
        // The label is mapped to its key apart from the saved chain, so the model serves rows without a label.
        var labelToKey = ds.LabelToKey(ml).Fit(rawTrain);
        var labelledTrain = labelToKey.Transform(rawTrain);
        var featurizer = ds.FeatureChain(ml).Fit(labelledTrain);
        var select = ml.Transforms.SelectColumns(ds.KeptColumns.ToArray()).Fit(featurizer.Transform(labelledTrain));
        var train = ml.Data.Cache(select.Transform(featurizer.Transform(labelledTrain)));
        Console.WriteLine($"Featurized in {ProgressLine.Format(total.Elapsed)}.");
        ITransformer trainer;
        string description;
        if (family == "best")
        {
            // The leaderboard's recommendation, as `leaderboard` chooses it: on validation rows, or by leave-one-group-out with --group.
            var test = ml.Data.Cache(select.Transform(featurizer.Transform(labelToKey.Transform(rawTest))));
            var (_, recommended, best, reason) = MainJob.RunLeaderboard(ds, null, epochs, seed, "fit --family best: the leaderboard", includeSingles: true, jsonPath: null,
                leaveOneGroupOut: ds.GroupColumn != null, keepModel: true, context: ml, featurized: (train, test), folds: folds, bagged: bagged);
            trainer = best ?? throw new InvalidOperationException("Every leaderboard candidate failed, so there is no model to save." + Environment.NewLine + "Hint: see each entry's error above.");
            description = $"the leaderboard's recommendation, {recommended!.Family}: {recommended.Name} ({reason})";
        }
        else
        {
            var candidate = Candidate(ds, family);
            description = $"{candidate.FamilyName}: {candidate.Name}";
            using var line = new ProgressLine("fit " + description);
            trainer = (AutoML.CandidateContext.For(ml, ds.Featurization, ds.GroupColumn) with { Progress = line.Report }).Build(candidate.Settings.WithEpochs(epochs)).Fit(train);
        }
        var toValue = ml.Transforms.Conversion.MapKeyToValue(PredictedLabel).Fit(trainer.Transform(train));
        var model = new TransformerChain<ITransformer>(featurizer, trainer, toValue);
        try
        {
            var scored = trainer.Transform(featurizer.Transform(labelToKey.Transform(rawTest)));
            var metrics = ml.MulticlassClassification.Evaluate(scored, ds.LabelColumn);
            ml.Model.SaveFusionModel(model, rawTrain.Schema, output);
            // One plain line: a console's width must not wrap the result.
            Console.WriteLine($"Fitted {description}. Test accuracy {metrics.MicroAccuracy:P1}, macro-F1 {FusionMetrics.MacroF1(metrics):F3}. " +
                $"Saved to {Path.GetFullPath(output)} ({ProgressLine.Format(total.Elapsed)} in all).");
            Console.WriteLine($"The model reads {string.Join(", ", ds.Columns.Columns.Where(c => c.Role is not (AutoML.ColumnRole.Ignored or AutoML.ColumnRole.Label or AutoML.ColumnRole.Group)).Select(c => c.Name))}; " +
                $"its Score slots are the classes {string.Join(", ", ds.Columns.Classes)} in that order.");
            return metrics.MicroAccuracy;
        }
        finally
        {
            model.Dispose();
        }
    }

    private const string PredictedLabel = "PredictedLabel";

    private static AutoML.Leaderboard.LeaderboardCandidate Candidate(MultimodalDataset ds, string family)
    {
        var all = AutoML.Leaderboard.FusionCandidates.Default(ds.Featurization, ds.GroupColumn, includeSingles: false);
        var f = FusionFamilies.Parse(family);
        // Late fusion's default here is the product of experts, the best combiner under leave-one-speaker-out.
        return all.FirstOrDefault(c => c.Family == f && (f != FusionFamily.Late || c.Combiner == Trainers.LateFusion.LateFusionCombiner.ProductOfExperts))
            ?? throw new ArgumentException($"Family '{family}' has no candidate for these columns: hybrid fusion needs tabular columns beside another modality (image, audio or text)." +
                Environment.NewLine + "Hint: choose another family, or give the CSV both kinds of column.");
    }
}
