using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Ensemble;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Ensemble selection (Caruana et al. 2004) and the weighted ensemble it builds.</summary>
public class EnsembleSelectionTests
{
    private static float[] P(params float[] p) => p;

    [Fact]
    public void SelectionEqualsAGreedySelectionComputedByHand()
    {
        // Three rows, two classes (labels 0, 1, 1). A is right on rows 0-1, B on rows 1-2, C says 0.5 everywhere.
        var a = new[] { P(0.9f, 0.1f), P(0.2f, 0.8f), P(0.7f, 0.3f) };
        var b = new[] { P(0.4f, 0.6f), P(0.1f, 0.9f), P(0.2f, 0.8f) };
        var c = new[] { P(0.5f, 0.5f), P(0.5f, 0.5f), P(0.5f, 0.5f) };
        int[] y = { 0, 1, 1 };
        // By hand, log-loss of the running average after each pick:
        // round 1: A  -(ln .9 + ln .8 + ln .3)/3 = 0.5108; B  -(ln .4 + ln .9 + ln .8)/3 = 0.4149; C ln 2 = 0.6931  → B
        // round 2: B+A -(ln .65 + ln .85 + ln .55)/3 = 0.3971; B+B 0.4149; B+C -(ln .45 + ln .7 + ln .65)/3 = 0.5285 → A
        // round 3: B+A+A -(ln(2.2/3) + ln(2.5/3) + ln(1.4/3))/3 = 0.4180; B+A+B -(ln(1.7/3) + ln(2.6/3) + ln(1.9/3))/3 = 0.3893;
        //          B+A+C -(ln(1.8/3) + ln(2.2/3) + ln(1.6/3))/3 = 0.4831 → B.  Weights after 3 rounds: A 1/3, B 2/3, C 0.
        var w = EnsembleSelection.Select(new[] { a, b, c }, y, rounds: 3);
        Assert.Equal(new[] { 1 / 3.0, 2 / 3.0, 0 }, w);
        Assert.Equal(0.4149, EnsembleSelection.LogLoss(b, y), 4);
    }

    [Fact]
    public void TheEnsembleIsRecommendedWhileTheBestBeatsItByNoMoreThanOneStandardError()
    {
        static LeaderboardEntry E(CandidateKind kind, string family, double validation, double? groupOut = null)
            => new(kind, family, family, validation, 1 - validation, double.NaN, double.NaN, double.NaN, TimeSpan.Zero, GroupOutAccuracy: groupOut);
        var best = E(CandidateKind.Fusion, "merge", 0.80);
        var baseline = E(CandidateKind.Baseline, "baseline", 0.70);
        // 100 rows: one standard error of 80% is 4 points, so an ensemble at 76.5% is within it and at 75.5% is not.
        var (near, rule) = FusionLeaderboard.Recommend(new[] { best, baseline, E(CandidateKind.Ensemble, "ensemble", 0.765) }, byGroups: false, judgedRows: 100);
        Assert.Equal("ensemble", near!.Family);
        Assert.True(rule);
        var (far, farRule) = FusionLeaderboard.Recommend(new[] { best, baseline, E(CandidateKind.Ensemble, "ensemble", 0.755) }, byGroups: false, judgedRows: 100);
        Assert.Same(best, far);
        Assert.False(farRule);
        // 10,000 rows: the error is 0.4 points, so the same 76.5% ensemble is too far below.
        Assert.Same(best, FusionLeaderboard.Recommend(new[] { best, E(CandidateKind.Ensemble, "ensemble", 0.765) }, byGroups: false, judgedRows: 10_000).entry);
        // By groups the group-out accuracy judges (not the validation accuracy), every training row a group at a time:
        // the best is recommended, however close the ensemble.
        var grouped = new[] { E(CandidateKind.Fusion, "merge", 0.99, groupOut: 0.90), E(CandidateKind.Ensemble, "ensemble", 0.50, groupOut: 0.93) };
        Assert.Equal("ensemble", FusionLeaderboard.Recommend(grouped, byGroups: true, judgedRows: 100).entry!.Family);
        var close = new[] { E(CandidateKind.Fusion, "merge", 0.50, groupOut: 0.9403), E(CandidateKind.Ensemble, "ensemble", 0.99, groupOut: 0.9399) };
        Assert.Equal(("merge", false), FusionLeaderboard.Recommend(close, byGroups: true, judgedRows: 100) is var (e, r) ? (e!.Family, r) : default);
        // Without an ensemble the best is recommended, ties broken by the lower validation log-loss.
        Assert.Same(best, FusionLeaderboard.Recommend(new[] { baseline, best }, byGroups: false, judgedRows: 100).entry);
        Assert.Null(FusionLeaderboard.Recommend(Array.Empty<LeaderboardEntry>(), byGroups: false, judgedRows: 0).entry);
    }

    [Fact]
    public void TheEnsemblesLeaveOneGroupOutScoreNeverChoosesAGroupsWeightsOnThatGroup()
    {
        // Two classes, groups a, b, c of four rows. A is confidently right on a and b and wrong on c; B the opposite.
        // Held out c, the weights come from a and b: all on A, so c scores 0 (weights chosen with c's labels would
        // favour B and score it well). Held out a, b and c's rows choose: B is right on c, A on b.
        static float[][] Rows(bool right, int[] labels) => labels.Select(y => right == (y == 0) ? P(0.9f, 0.1f) : P(0.1f, 0.9f)).ToArray();
        int[] y = { 0, 1, 0, 1 };
        var a = new Dictionary<string, (float[][], int[])> { ["a"] = (Rows(true, y), y), ["b"] = (Rows(true, y), y), ["c"] = (Rows(false, y), y) };
        var b = new Dictionary<string, (float[][], int[])> { ["a"] = (Rows(false, y), y), ["b"] = (Rows(false, y), y), ["c"] = (Rows(true, y), y) };
        var scores = FusionLeaderboard.EnsembleGroupOut(new[] { a, b }, classes: 2, rounds: 10);
        Assert.Equal(new[] { "a", "b", "c" }, scores.Keys.Order());
        Assert.Equal(0.0, scores["c"]);
        // The weights for c alone come from a and b, where only A is right: what EnsembleSelection chooses there.
        var onAandB = EnsembleSelection.Select(new[] { Rows(true, y).Concat(Rows(true, y)).ToArray(), Rows(false, y).Concat(Rows(false, y)).ToArray() }, y.Concat(y).ToArray(), 10);
        Assert.Equal(new[] { 1.0, 0.0 }, onAandB);
    }

    [Fact]
    public void AMemberAtTheClassPriorGetsWeightZero()
    {
        // Two calibrated members that are each right 80% of the time on different rows, and one that outputs the prior.
        var r = new Random(2);
        int n = 400, k = 3;
        var y = Enumerable.Range(0, n).Select(_ => r.Next(k)).ToArray();
        float[][] Member(int seed)
        {
            var rr = new Random(seed);
            return y.Select(label =>
            {
                int guess = rr.NextDouble() < 0.8 ? label : rr.Next(k);
                var p = Enumerable.Repeat(0.1f, k).ToArray(); p[guess] = 0.8f;
                return p;
            }).ToArray();
        }
        var prior = Enumerable.Range(0, n).Select(_ => Enumerable.Repeat(1f / k, k).ToArray()).ToArray();
        var w = EnsembleSelection.Select(new[] { Member(5), prior, Member(6) }, y);
        Assert.Equal(0, w[1]);
        Assert.True(w[0] > 0.2 && w[2] > 0.2, string.Join(", ", w));
        Assert.Equal(1, w.Sum(), 9);
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var ok = new[] { new[] { P(0.5f, 0.5f) } };
        Assert.Throws<ArgumentException>(() => EnsembleSelection.Select(Array.Empty<float[][]>(), new[] { 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnsembleSelection.Select(ok, new[] { 0 }, rounds: 0));
        var e = Assert.Throws<ArgumentException>(() => EnsembleSelection.Select(new[] { ok[0], new[] { P(0.5f, 0.5f), P(0.5f, 0.5f) } }, new[] { 0 }));
        Assert.StartsWith("Candidate 1 has probabilities for 2 rows", e.Message);
    }

    [Fact]
    public void TheEnsembleScoresTheWeightedAverageAndRoundTripsThroughTheModelFile()
    {
        var ml = new MLContext(seed: 1);
        var rows = ToyRow.Make(300, 21);
        var train = ToyRow.Load(ml, rows.Take(200));
        var test = ToyRow.Load(ml, rows.Skip(200));
        var image = ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Image").Fit(train);
        var tab = ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Tab").Fit(train);
        using var ensemble = new WeightedEnsembleTransformer(new ITransformer[] { image, tab }, new[] { "image", "tab" }, new[] { 3.0, 1.0 },
            LabelKeyValues.FromColumn(train.Schema["Label"]));
        Assert.Equal(new[] { 0.75, 0.25 }, ensemble.Weights);

        var scored = ensemble.Transform(test);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var si = image.Transform(test).GetColumn<float[]>("Score").ToArray();
        var st = tab.Transform(test).GetColumn<float[]>("Score").ToArray();
        for (int r = 0; r < scores.Length; r++)
            for (int c = 0; c < 4; c++) Assert.Equal(0.75 * si[r][c] + 0.25 * st[r][c], scores[r][c], 4);   // float sums
        // Both modalities carry one bit each: the ensemble of the two linear models beats chance (25%) by a margin.
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.True(metrics.MicroAccuracy > 0.6, $"ensemble accuracy {metrics.MicroAccuracy:P1}");

        using var file = new MemoryStream();
        ml.Model.SaveFusionModel(ensemble, train.Schema, file);
        var loaded = ml.Model.LoadFusionModel(new MemoryStream(file.ToArray()), out _);
        var again = loaded.Transform(test).GetColumn<float[]>("Score").ToArray();
        Assert.Equal(scores, again);
        var reloaded = Assert.IsType<WeightedEnsembleTransformer>(loaded);
        Assert.Equal(new[] { "image", "tab" }, reloaded.MemberNames);

        // One row at a time (PredictionEngine) gives the same scores as the batch.
        var engine = ml.Model.CreatePredictionEngine<ToyRow, ScoreOnly>(loaded);
        var first = engine.Predict(rows[200]);
        Assert.Equal(scores[0], first.Score);
    }

    private sealed class ScoreOnly { public float[] Score { get; set; } = Array.Empty<float>(); }
}
