using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Trainers;
using MLNetFusion.Models;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// How the leaderboard judges its candidates (issue 43): cross-fitting judges every training row out of fold and
/// serves a refit on all of them; leave-one-group-out serves a refit on every group; a hold-out serves its own fit.
/// </summary>
public class LeaderboardProtocolTests
{
    private sealed class Row
    {
        public string Label { get; set; } = "";
        [VectorType(4)] public float[] Tabular { get; set; } = Array.Empty<float>();
        public string Site { get; set; } = "";
    }

    private sealed class ClassName { public string Label { get; set; } = ""; }

    // Three classes from the first two tabular columns, with noise; six sites.
    private static IDataView Rows(MLContext ml, int n, int seed)
    {
        var rand = new Random(seed);
        var rows = Enumerable.Range(0, n).Select(i =>
        {
            var x = Enumerable.Range(0, 4).Select(_ => (float)(rand.NextDouble() * 2 - 1)).ToArray();
            int y = x[0] + 0.3 * rand.NextDouble() > 0.3 ? 2 : x[1] > 0 ? 1 : 0;
            return new Row { Label = $"c{y}", Tabular = x, Site = "site" + (i % 6) };
        }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var classes = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 3).Select(c => new ClassName { Label = $"c{c}" }));
        return ml.Data.Cache(ml.Transforms.Conversion.MapValueToKey("Label", keyData: classes).Fit(data).Transform(data));
    }

    private static readonly FusionFeaturization Featurization = new(new MLContext().Transforms.CopyColumns("a", "b"), new[] { ModalityOptions.Tabular("Tabular", "x") }, "Label", new[] { "a" })
    {
        LabelToKey = new MLContext().Transforms.Conversion.MapValueToKey("Label"), DenseFeatureColumns = new[] { "Tabular" },
    };

    private static readonly LeaderboardCandidate[] Candidates =
    {
        LeaderboardCandidate.Of(CandidateKind.Baseline, "L-BFGS", FusionFamily.Early, (SweepParameters.EarlyLearner, EarlyFusionLearner.LbfgsMaximumEntropy)),
        LeaderboardCandidate.Of(CandidateKind.Baseline, "LightGBM", FusionFamily.Early, (SweepParameters.EarlyLearner, EarlyFusionLearner.LightGbm)),
    };

    private static float[][] Scores(ITransformer model, IDataView data) => Columns.Vectors(model.Transform(data), "Score").ToArray();

    [Fact]
    public void CrossFittingJudgesEveryTrainingRowOutOfFoldAndServesARefitOnAllOfThem()
    {
        var ml = new MLContext(seed: 1);
        var train = Rows(ml, 300, 1);
        var test = Rows(ml, 100, 2);
        using var result = ml.Fusion().CreateLeaderboard(train, test, Featurization, new FusionLeaderboardOptions { Candidates = Candidates, NumberOfFolds = 4, EnsembleRounds = 10 });
        Assert.Equal("cross-fitting: every candidate fitted 4 times, each without one fold, so all 300 training rows are judged out of fold; the served model is refitted on all of them", result.Protocol);
        Assert.Contains("out of fold on the training rows (4 folds, 300 rows)", result.RecommendationReason);
        Assert.All(result.Entries, e => Assert.Null(e.Error));
        Assert.All(result.Entries.Where(e => e.Kind != CandidateKind.Ensemble), e => Assert.True(e.ValidationAccuracy > 0.6, $"{e.Name}: out of fold {e.ValidationAccuracy:P1} (chance 33%)"));

        // The served L-BFGS model is the fit on all 300 rows, not on a fold's.
        var lbfgs = CandidateContext.For(ml, Featurization).Build(Candidates[0].Settings).Fit(train);
        var refit = ml.Fusion().CreateLeaderboard(train, test, Featurization, new FusionLeaderboardOptions { Candidates = new[] { Candidates[0] }, NumberOfFolds = 4, EnsembleRounds = 0 });
        Assert.Equal(Scores(lbfgs, test), Scores(refit.RecommendedModel!, test));
        refit.Dispose();

        // Grouped folds hold whole sites; more folds than sites is at most one fold per site.
        using var grouped = ml.Fusion().CreateLeaderboard(train, test, Featurization, new FusionLeaderboardOptions { Candidates = Candidates, NumberOfFolds = 10, GroupColumnName = "Site", EnsembleRounds = 0 });
        Assert.StartsWith("cross-fitting: every candidate fitted 6 times, each without one fold of whole 'Site' groups", grouped.Protocol);
    }

    [Fact]
    public void LeaveOneGroupOutServesARefitOnEveryGroupAndAHoldOutServesItsOwnFit()
    {
        var ml = new MLContext(seed: 1);
        var train = Rows(ml, 240, 3);
        var test = Rows(ml, 60, 4);
        using var logo = ml.Fusion().CreateLeaderboard(train, test, Featurization, new FusionLeaderboardOptions { Candidates = Candidates, GroupColumnName = "Site", LeaveOneGroupOut = true, EnsembleRounds = 10 });
        Assert.Equal("leave-one-'Site'-out: every candidate fitted 6 times, each without one group, then refitted on all 240 training rows, which the served model is", logo.Protocol);
        Assert.All(logo.Entries, e => Assert.Equal(6, e.GroupAccuracies!.Count));
        Assert.StartsWith("best leave-one-'Site'-out accuracy on the training rows (6 groups", logo.RecommendationReason);

        using var holdout = ml.Fusion().CreateLeaderboard(train, test, Featurization, new FusionLeaderboardOptions { Candidates = Candidates, EnsembleRounds = 0, NumberOfFolds = 1 });
        Assert.StartsWith("one validation hold-out:", holdout.Protocol);
        Assert.Contains("accuracy on the validation rows (rows held out of training,", holdout.RecommendationReason);
        Assert.Equal(new[] { "candidates fitted without the hold-out and judged", "recommended model loaded" }, holdout.Timings.Select(t => t.Part));
        Assert.All(holdout.Entries, e => Assert.Null(e.RefitTime));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new FusionLeaderboardOptions { NumberOfFolds = -1 }.Validate());
        Assert.Contains("NumberOfFolds must be in [0, 20].", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FusionLeaderboardOptions { CrossFittedModel = (CrossFittedModel)7 }.Validate());
    }

    [Fact]
    public void TheDefaultChoosesFoldsByTheTrainingRowsAndBaggingServesTheFoldModelsAverage()
    {
        Assert.Equal(5, FusionLeaderboardOptions.FoldsFor(FusionLeaderboardOptions.Defaults.CrossFitUpToRows));
        Assert.Equal(1, FusionLeaderboardOptions.FoldsFor(FusionLeaderboardOptions.Defaults.CrossFitUpToRows + 1));
        var ml = new MLContext(seed: 1);
        var train = Rows(ml, 300, 5);
        var test = Rows(ml, 100, 6);

        // 300 rows: five folds by default, a refit served.
        using var byDefault = ml.Fusion().CreateLeaderboard(train, test, Featurization, new FusionLeaderboardOptions { Candidates = new[] { Candidates[0] }, EnsembleRounds = 0 });
        Assert.Equal("cross-fitting: every candidate fitted 5 times, each without one fold, so all 300 training rows are judged out of fold; the served model is refitted on all of them " +
            "(5 folds chosen for 300 training rows: 5 folds up to 5,000, a hold-out above)", byDefault.Protocol);
        Assert.Equal(new[] { "candidates fitted without each of 5 folds and judged", "candidates refitted on every training row", "recommended model loaded" }, byDefault.Timings.Select(t => t.Part));
        var entry = Assert.Single(byDefault.Entries);
        Assert.True(entry.RefitTime > TimeSpan.Zero && entry.RefitTime < entry.TrainingTime, $"refit {entry.RefitTime} of {entry.TrainingTime}");
        Assert.IsNotType<MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer>(byDefault.RecommendedModel);

        // Bagged: the same out-of-fold judgement (the same folds and fits), and the served model averages the five fold fits.
        using var bagged = ml.Fusion().CreateLeaderboard(train, test, Featurization, new FusionLeaderboardOptions { Candidates = new[] { Candidates[0] }, EnsembleRounds = 0, CrossFittedModel = CrossFittedModel.Bagged });
        Assert.EndsWith("so all 300 training rows are judged out of fold; the served model averages the 5 fold models (5 folds chosen for 300 training rows: 5 folds up to 5,000, a hold-out above)", bagged.Protocol);
        Assert.Equal(entry.ValidationAccuracy, bagged.Entries[0].ValidationAccuracy);
        Assert.Null(bagged.Entries[0].RefitTime);
        Assert.DoesNotContain(bagged.Timings, t => t.Part.Contains("refitted", StringComparison.Ordinal));
        var bag = Assert.IsType<MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer>(bagged.RecommendedModel);
        Assert.Equal(new[] { "fold 1/5", "fold 2/5", "fold 3/5", "fold 4/5", "fold 5/5" }, bag.MemberNames);
        var members = bag.Members.Select(m => Scores(m, test)).ToArray();
        var served = Scores(bag, test);
        for (int r = 0; r < served.Length; r++)
            for (int k = 0; k < 3; k++)
                Assert.True(Math.Abs(members.Average(m => m[r][k]) - served[r][k]) <= 1e-6, $"row {r}, class {k}: {served[r][k]} against the members' mean {members.Average(m => m[r][k])}");
        // Each fold model saw four fifths of the rows: none equals the refit on all of them.
        var refit = Scores(byDefault.RecommendedModel!, test);
        Assert.All(members, m => Assert.NotEqual(refit, m));
        Assert.True(bagged.Entries[0].Accuracy > 0.6, $"bagged test accuracy {bagged.Entries[0].Accuracy:P1} (chance 33%)");
    }
}
