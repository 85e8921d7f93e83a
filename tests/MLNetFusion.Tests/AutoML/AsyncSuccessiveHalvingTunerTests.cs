using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Trainers;
using Xunit;

namespace MLNetFusion.Tests.AutoML;

/// <summary>Asynchronous successive halving without training: results are made up, the decisions are the tuner's.</summary>
public class AsyncSuccessiveHalvingTunerTests
{
    private static FusionSearchSpace Space() => new() { Families = new() { FusionFamily.Merge }, Epochs = new NumericRange(2, 18, 6, integer: true) };

    private static FusionTrialResult Done(FusionTrialSettings s, double metric) => new() { Settings = s, Status = FusionTrialStatus.Completed, Metric = metric };

    [Fact]
    public void PromotesTheBestThirdAsSoonAsARungHasResultsWithoutWaitingForTheOthers()
    {
        var space = Space();
        var tuner = new AsyncSuccessiveHalvingTuner(eta: 3, defaultsFirst: false);
        var random = new Random(1);
        var ctx = new FusionTuningContext(space, random, 0, FusionMetric.Accuracy);
        // Four trials handed out at once (four free workers): all at the first rung.
        var first = Enumerable.Range(0, 4).Select(i => tuner.Propose(ctx with { TrialId = i })!).ToList();
        Assert.Equal(3, tuner.Rungs);   // 2, 6, 18 epochs
        Assert.All(first, s => Assert.Equal(2, s.Epochs));
        Assert.All(first, s => Assert.Equal(0, tuner.RungOf(s.TrialId)));
        Assert.Equal(4, first.Select(s => s.ConfigurationKey).Distinct().Count());
        // Two results: 2 / 3 rounds down to no promotion, so a new configuration.
        tuner.Report(Done(first[0], 0.5));
        tuner.Report(Done(first[1], 0.7));
        var fifth = tuner.Propose(ctx with { TrialId = 4 })!;
        Assert.Equal((0, 2), (tuner.RungOf(4), fifth.Epochs));
        // A third result: the best of three (trial 1) is promoted to 6 epochs while trials 3 and 4 still run.
        tuner.Report(Done(first[2], 0.6));
        var promoted = tuner.Propose(ctx with { TrialId = 5 })!;
        Assert.Equal((1, 6), (tuner.RungOf(5), promoted.Epochs));
        Assert.Equal(first[1].ConfigurationKey, promoted.ConfigurationKey);
        // It is promoted once: the next is a new configuration again.
        var next = tuner.Propose(ctx with { TrialId = 6 })!;
        Assert.Equal(0, tuner.RungOf(6));
        Assert.DoesNotContain(next.ConfigurationKey, first.Select(s => s.ConfigurationKey));
        // The top rung is never left: a 1-of-3 leader at rung 1 goes to 18 epochs, and no further.
        tuner.Report(Done(promoted, 0.8));
        foreach (var (s, m) in new[] { (first[3], 0.9), (fifth, 0.1), (next, 0.2) }) tuner.Report(Done(s, m));
        var fromRung0 = tuner.Propose(ctx with { TrialId = 7 })!;   // 6 results at rung 0: the best two are 0.9 (trial 3) and 0.7 (already promoted)
        Assert.Equal((1, first[3].ConfigurationKey), (tuner.RungOf(7), fromRung0.ConfigurationKey));
        tuner.Report(Done(fromRung0, 0.95));
        var extra = tuner.Propose(ctx with { TrialId = 8 })!;
        Assert.Equal(0, tuner.RungOf(8));   // 2 results at rung 1: none promoted yet
        tuner.Report(Done(extra, 0.3));
        var third = Enumerable.Range(9, 3).Select(i => tuner.Propose(ctx with { TrialId = i })!).ToList();
        Assert.DoesNotContain(third, s => tuner.RungOf(s.TrialId) == 2);
    }

    [Fact]
    public void ReplayingTheSameCallsWithTheSameSeedProposesTheSameTrials()
    {
        List<string> Run()
        {
            var tuner = new AsyncSuccessiveHalvingTuner();
            var ctx = new FusionTuningContext(Space(), new Random(9), 0, FusionMetric.Accuracy);
            var proposed = new List<string>();
            var outstanding = new Queue<FusionTrialSettings>();
            for (int id = 0; id < 20; id++)
            {
                var s = tuner.Propose(ctx with { TrialId = id })!;
                proposed.Add(s.ToString());
                outstanding.Enqueue(s);
                if (id % 2 == 1) { var r = outstanding.Dequeue(); tuner.Report(Done(r, r.TrialId * 37 % 11 / 11.0 + r.Epochs)); }
            }
            return proposed;
        }
        var a = Run();
        Assert.Equal(a, Run());
        Assert.StartsWith("merge: ", a[0]);   // the family's defaults first
    }

    [Fact]
    public void EtaBelowTwoIsAnError()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new AsyncSuccessiveHalvingTuner(eta: 1));
        Assert.StartsWith("eta must be at least 2.", e.Message);
    }
}
