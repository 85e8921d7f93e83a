using MLNetFusion.Trainers;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Cli.Leaderboard;
using MLNetFusion.Datasets;
using MLNetFusion.AutoML.Sweep;
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
    public static readonly string[] Families = { "merge", "network", "cross-modal", "late", "early", "best" };

    /// <summary>Throws a clear error unless <paramref name="family"/> is a family name or <c>best</c>.</summary>
    public static void CheckFamily(string family)
    {
        if (family != "best" && !FusionFamilies.TryParse(family, out _))
            throw new ArgumentException($"Unknown family '{family}'." + Environment.NewLine + $"Hint: use one of {string.Join(", ", Families)}.");
    }

    /// <summary>Fits, evaluates on the test split, saves to <paramref name="output"/> and returns the test accuracy.</summary>
    public static double Run(MultimodalDataset ds, string family, string output, int epochs, int seed, double sweepMinutes)
    {
        CheckFamily(family);
        var ml = new MLContext(seed: seed);
        AnsiConsole.Write(MainJob.RolesTable(ds));
        var (rawTrain, rawTest) = ds.LoadSplits(ml);
        var featurizer = ds.Featurizer(ml).Fit(rawTrain);
        var select = ml.Transforms.SelectColumns(ds.KeptColumns.ToArray())
            .Fit(featurizer.Transform(rawTrain));
        var train = ml.Data.Cache(select.Transform(featurizer.Transform(rawTrain)));
        ITransformer trainer;
        string description;
        if (family == "best")
        {
            var test = ml.Data.Cache(select.Transform(featurizer.Transform(rawTest)));
            var outcome = SweepJob.Search(ml, ds, train, test, TimeSpan.FromMinutes(sweepMinutes), null, new SuccessiveHalvingTuner(), seed,
                grouped: ds.GroupColumn != null);
            trainer = outcome.Result.Model;
            description = "sweep's best: " + outcome.Result.BestTrial.Settings;
        }
        else
        {
            var candidate = Candidate(family, epochs);
            trainer = candidate.Build(ml, ds, null).Fit(train);
            description = $"{candidate.FamilyName}: {candidate.Name}";
        }
        var model = new TransformerChain<ITransformer>(featurizer, trainer);
        try
        {
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(rawTest), ds.LabelColumn);
            ml.Model.SaveFusionModel(model, rawTrain.Schema, output);
            AnsiConsole.MarkupLine(Markup.Escape($"Fitted {description}. Test accuracy {metrics.MicroAccuracy:P1}, macro-F1 {FusionMetrics.MacroF1(metrics):F3}. Saved to {Path.GetFullPath(output)}."));
            return metrics.MicroAccuracy;
        }
        finally
        {
            model.Dispose();
        }
    }

    private static Candidate Candidate(string family, int epochs)
    {
        var all = Candidates.All(epochs);
        var f = FusionFamilies.Parse(family);
        // Late fusion's default here is the product of experts, the best combiner under leave-one-speaker-out.
        return all.First(c => c.Family == f && (f != FusionFamily.Late || c.Name.StartsWith("product", StringComparison.Ordinal)));
    }
}
