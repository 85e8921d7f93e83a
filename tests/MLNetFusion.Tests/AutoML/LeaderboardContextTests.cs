using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Models;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>What every neural leaderboard candidate gets from its context.</summary>
public class LeaderboardContextTests
{
    private static readonly FusionFeaturization Featurization = new(new MLContext().Transforms.CopyColumns("a", "b"), new[] { ModalityOptions.Image("Pixels") }, "Digit", new[] { "a" })
    {
        LabelToKey = new MLContext().Transforms.Conversion.MapValueToKey("Digit"), DenseFeatureColumns = new[] { "Pixels" },
    };

    /// <summary>Tabular columns, an image and a text (its n-grams and hashed words beside its token ids).</summary>
    private static FusionFeaturization TabularImageText()
    {
        var text = ModalityOptions.Text("Review.Tokens", "Review");
        text.FeaturesColumnName = "Review.Text";
        return new FusionFeaturization(new MLContext().Transforms.CopyColumns("a", "b"),
            new[] { ModalityOptions.Tabular("Tabular", "zip, income"), ModalityOptions.Image("Pixels", "photo"), text }, "Label", new[] { "a" })
        {
            LabelToKey = new MLContext().Transforms.Conversion.MapValueToKey("Label"), DenseFeatureColumns = new[] { "Tabular", "Pixels", "Review.Hashed" },
        };
    }

    private static CandidateContext Context(int patience) => CandidateContext.For(new MLContext(seed: 1), Featurization) with { EarlyStoppingPatience = patience };

    [Fact]
    public void EachModalityGetsThePlainBaselineItsKindNames()
    {
        var featurization = TabularImageText();
        var baselines = FusionCandidates.Default(featurization).Where(c => c.Kind == CandidateKind.Baseline).Select(c => c.Name).ToList();
        Assert.Contains("zip, income only: LightGBM", baselines);
        Assert.Contains("Review only: n-grams + L-BFGS maximum entropy", baselines);
        Assert.DoesNotContain(baselines, n => n.StartsWith("photo", StringComparison.Ordinal));   // an image's own entry is its CNN
        Assert.Equal(4, baselines.Count);                                                            // and the two concatenations
        Assert.Equal(PlainBaseline.None, ModalityRegistry.Get(ModalityKind.Audio).Baseline);

        // Tabular columns beside another modality: a hybrid entry, LightGBM's branch fused with the other encoders.
        var hybrid = FusionCandidates.Default(featurization, "Site").Single(c => c.Family == MLNetFusion.Trainers.FusionFamily.Hybrid);
        Assert.Equal("LightGBM on the tabular columns (out-of-fold probabilities, 5 folds of whole 'Site' groups) + network over the other encoders", hybrid.Name);
        Assert.Equal("hybrid", hybrid.FamilyName);
        var tabularOnly = new FusionFeaturization(new MLContext().Transforms.CopyColumns("a", "b"), new[] { ModalityOptions.Tabular("Tabular", "zip, income") }, "Label", new[] { "a" })
        {
            LabelToKey = new MLContext().Transforms.Conversion.MapValueToKey("Label"), DenseFeatureColumns = new[] { "Tabular" },
        };
        Assert.DoesNotContain(FusionCandidates.Default(tabularOnly), c => c.Family == MLNetFusion.Trainers.FusionFamily.Hybrid);   // nothing to fuse with
    }

    [Fact]
    public void NeuralCandidatesGetTheLabelTheEpochsAndEarlyStoppingOnlyWhenAsked()
    {
        var merge = new FusionTrialSettings(0, FusionFamily.Merge, new Dictionary<string, object> { ["operation"] = MergeOperation.Mean }).WithEpochs(7);
        var plain = Context(0).Neural(new MergeFusionOptions(), merge);
        Assert.Equal(("Digit", 7, 0, 0.0), (plain.LabelColumnName, plain.Epochs, plain.EarlyStoppingPatience, plain.ValidationFraction));
        Assert.Null(plain.Progress);
        // What the settings leave out keeps the trainer's default without a search space, and the space's default with one.
        Assert.Equal(FusionTrainerOptions.Defaults.HeadDropout, plain.HeadDropout);
        var space = new MLNetFusion.AutoML.Sweep.FusionSearchSpace { Dropout = new NumericRange(0.35, 0.35, 0.35) };
        Assert.Equal(0.35, (Context(0) with { Space = space }).Neural(new MergeFusionOptions(), merge).HeadDropout);

        var stopping = Context(2).Neural(new MergeFusionOptions { Modalities = { ModalityOptions.Image("Pixels") } }, merge);
        Assert.Equal((2, FusionCandidates.Defaults.EarlyStoppingValidationFraction), (stopping.EarlyStoppingPatience, stopping.ValidationFraction));
        stopping.Validate();

        Assert.Throws<ArgumentOutOfRangeException>(() => new FusionLeaderboardOptions { EarlyStoppingPatience = -1 }.Validate());
    }

    [Fact]
    public void AKindsTuningsJoinTheNeuralFamiliesSearchAndApplyToTheTrainersCopiesOfItsModalities()
    {
        var image = ModalityOptions.Image("Pixels", "photo", new[] { 1, 8, 8 });
        var audio = ModalityOptions.Audio("LogMel", "clip", new[] { 8, 8 });
        Assert.Empty(new FusionSearchSpace().ForModalities(new[] { image }).Tunings);   // no kind with tunings, no such parameter

        // The audio kind's tunings join the space of an experiment with audio; a value the user narrowed is kept.
        var given = new FusionSearchSpace { Tunings = { ["perClipNormalization"] = new Choice<bool>(true) } };
        var space = given.ForModalities(new[] { image, audio });
        Assert.Single(given.Tunings);   // the user's space is not edited
        Assert.Equal(new[] { "audioAugmentationStrength", "perClipNormalization" }, space.Tunings.Keys.Order());
        Assert.Equal(new[] { 0.5, 0.0, 1.0 }, ((Choice<double>)space.Tunings["audioAugmentationStrength"]).Values);
        Assert.Equal(new[] { true }, ((Choice<bool>)space.Tunings["perClipNormalization"]).Values);
        Assert.Contains(space.DimensionsOf(FusionFamily.Merge), d => d.Name == "audioAugmentationStrength");
        Assert.DoesNotContain(space.DimensionsOf(FusionFamily.Early), d => d.Name == "perClipNormalization");
        Assert.Equal(true, space.DefaultsOf(FusionFamily.Network)["perClipNormalization"]);
        Assert.Same(space.Tunings["perClipNormalization"], space.DimensionNamed("perClipNormalization"));

        // A trial's values go to the trainer's copies of the audio modalities only; the experiment's stay as they were.
        var context = CandidateContext.For(new MLContext(seed: 1), new FusionFeaturization(new MLContext().Transforms.CopyColumns("a", "b"), new[] { image, audio }, "Label", new[] { "a" })
        {
            LabelToKey = new MLContext().Transforms.Conversion.MapValueToKey("Label"), DenseFeatureColumns = new[] { "Pixels", "LogMel" },
        }) with { Space = space };
        var trial = new FusionTrialSettings(3, FusionFamily.Merge, new Dictionary<string, object> { ["audioAugmentationStrength"] = 0.0, ["perClipNormalization"] = true });
        var decoded = MLNetFusion.Distributed.TrialSpec.From(trial).ToSettings(space).Parameters;   // as a distributed worker reads it
        Assert.Equal((0.0, true), ((double)decoded["audioAugmentationStrength"], (bool)decoded["perClipNormalization"]));
        var options = context.Neural(new MergeFusionOptions { Modalities = context.NetworkModalitiesOf(trial) }, trial);
        var tunedAudio = options.Modalities.Single(m => m.Kind == ModalityKind.Audio);
        Assert.True(tunedAudio.EncoderOptionsAs<CnnEncoderOptions>().PerClipNormalization);
        Assert.False(tunedAudio.Augmentation!.IsActive);
        Assert.False(options.Modalities.Single(m => m.Kind == ModalityKind.Image).EncoderOptionsAs<CnnEncoderOptions>().PerClipNormalization);
        Assert.False(audio.EncoderOptionsAs<CnnEncoderOptions>().PerClipNormalization);
        Assert.Null(audio.Augmentation);
        // Without a value (a leaderboard entry, no space), the kind's own default: SpecAugment at 0.5 when the trainer applies its settings.
        var entry = (context with { Space = null }).Neural(new MergeFusionOptions { Modalities = context.NetworkModalitiesOf(trial) }, trial with { Parameters = new Dictionary<string, object>() });
        Assert.Null(entry.Modalities.Single(m => m.Kind == ModalityKind.Audio).Augmentation);
        var applied = entry.Modalities.Single(m => m.Kind == ModalityKind.Audio).Clone();
        ModalityRegistry.Get(ModalityKind.Audio).ApplyTrainerSettings(applied, new ModalityTrainerSettings(0));
        Assert.Equal(ModalityAugmentation.Spectrogram(0.5).TimeMasks, applied.Augmentation!.TimeMasks);
    }

    [Fact]
    public void TheLeaderboardsEntriesAreSettingsTheSweepsFamilyClassesBuild()
    {
        // Every entry is a family and parameter values; the engine builds it as it builds a sweep trial.
        var featurization = TabularImageText();
        var candidates = FusionCandidates.Default(featurization);
        var merge = candidates.Single(c => c.Family == FusionFamily.Merge);
        Assert.Equal(MergeOperation.Attention, merge.Settings.Parameters["operation"]);
        Assert.Equal(LateFusionCombiner.ProductOfExperts, candidates.Single(c => c.Name == "product of experts").Combiner);
        var lightGbm = candidates.Single(c => c.Name == "zip, income only: LightGBM");
        Assert.Equal((FusionFamily.Early, "zip, income"), (lightGbm.Settings.Family, lightGbm.Settings.Parameters["modalities"]));
        Assert.Null(lightGbm.Family);   // a baseline, built as early fusion

        // A text alone is read through an MLP on its hashed words (an empty text would leave its encoder nothing); an image alone through its CNN.
        var context = CandidateContext.For(new MLContext(seed: 1), featurization);
        var textAlone = context.NetworkModalitiesOf(candidates.Single(c => c.Name.StartsWith("Review only (", StringComparison.Ordinal)).Settings);
        Assert.Equal(("Review.Hashed", EncoderKind.Mlp), (textAlone.Single().ColumnName, textAlone.Single().Encoder));
        var imageAlone = context.NetworkModalitiesOf(candidates.Single(c => c.Name.StartsWith("photo only", StringComparison.Ordinal)).Settings);
        Assert.Equal(("Pixels", EncoderKind.Cnn), (imageAlone.Single().ColumnName, imageAlone.Single().Encoder));

        // An unknown modality in the settings is an exact error.
        var unknown = new FusionTrialSettings(4, FusionFamily.Network, new Dictionary<string, object> { ["modalities"] = "audio" });
        var error = Assert.Throws<ArgumentException>(() => context.Build(unknown));
        Assert.StartsWith("Trial 4 uses modality 'audio', which is not one of the experiment's modalities (zip, income, photo, Review).", error.Message);
    }
}

/// <summary>The leaderboard validates on whole groups, however few there are.</summary>
public class LeaderboardValidationSplitTests
{
    private sealed class Row
    {
        public string Site { get; set; } = "";
        public uint Label { get; set; }
        [Microsoft.ML.Data.VectorType(4)] public float[] Tab { get; set; } = Array.Empty<float>();
    }

    private static readonly string[] Speakers = { "nicolas", "theo", "yweweler" };

    /// <summary>300 rows from three sites, each with every label; four numbers of which one marks the label.</summary>
    private static (IDataView keyed, FusionFeaturization featurization) ThreeSites(MLContext ml, int seed)
    {
        var rand = new Random(seed);
        var rows = Enumerable.Range(0, 300).Select(i =>
        {
            uint label = (uint)(i / 3 % 3) + 1;                         // three sites, each with every label
            return new Row { Site = Speakers[i % 3], Label = label, Tab = Enumerable.Range(0, 4).Select(k => (float)(rand.NextDouble() + (k == label ? 2 : 0))).ToArray() };
        }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var featurization = new FusionFeaturization(ml.Transforms.CopyColumns("Tab", "Tab"), new[] { ModalityOptions.Tabular("Tab", "tab") }, "Label", new[] { "Tab" })
        {
            LabelToKey = ml.Transforms.Conversion.MapValueToKey("Label"), DenseFeatureColumns = new[] { "Tab" },
        };
        return (keyed, featurization);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ThreeGroupsAlwaysLeaveAWholeGroupToValidateOn(int seed)
    {
        // ML.NET's hashed group split of three groups held out none about half the time: every candidate then failed
        // with "Sequence contains no elements" (seen on avdigits' three training speakers).
        var ml = new MLContext(seed: 1);
        var (keyed, featurization) = ThreeSites(ml, seed);
        var candidate = LeaderboardCandidate.Of(CandidateKind.Baseline, "L-BFGS", FusionFamily.Early, (SweepParameters.EarlyLearner, EarlyFusionLearner.LbfgsMaximumEntropy));
        var options = new FusionLeaderboardOptions { GroupColumnName = "Site", Candidates = new[] { candidate, candidate with { Name = "again" } }, Seed = seed, EnsembleRounds = 0, NumberOfFolds = 1 };
        using var result = FusionLeaderboard.Run(ml, keyed, keyed, featurization, options);
        Assert.All(result.Entries, e => Assert.Null(e.Error));
        Assert.All(result.Entries, e => Assert.True(e.ValidationAccuracy > 0.6, $"{e.Name}: validation accuracy {e.ValidationAccuracy}"));
    }

    [Fact]
    public void ATimeLimitRunsTheBaselinesFirstStopsWhatWouldOverrunAndRecommendsFromWhatFinished()
    {
        var ml = new MLContext(seed: 1);
        var (keyed, featurization) = ThreeSites(ml, seed: 1);
        var network = LeaderboardCandidate.Of(CandidateKind.Fusion, "network 1", FusionFamily.Network);
        var baseline = LeaderboardCandidate.Of(CandidateKind.Baseline, "L-BFGS", FusionFamily.Early, (SweepParameters.EarlyLearner, EarlyFusionLearner.LbfgsMaximumEntropy));
        var finished = new List<string>();
        // 10,000 epochs without early stopping: far more than 4 s on any CPU.
        var options = new FusionLeaderboardOptions
        {
            Candidates = new[] { network, network with { Name = "network 2" }, network with { Name = "network 3" }, baseline }, Epochs = 10_000, EarlyStoppingPatience = 10_000,
            TimeLimit = TimeSpan.FromSeconds(4), NumberOfFolds = 1, EnsembleRounds = 5, EntryFinished = (e, _) => finished.Add(e.Name),
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var result = FusionLeaderboard.Run(ml, keyed, keyed, featurization, options);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40), $"took {clock.Elapsed}");   // the limit, plus the baseline, the stop and the test scoring
        Assert.Equal("L-BFGS", finished[0]);                                                 // listed last, run first
        var networks = result.Entries.Where(e => e.Name.StartsWith("network", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, networks.Count);
        Assert.All(networks, e => Assert.True(e.SkippedByTimeLimit, $"{e.Name}: {e.Error}"));
        Assert.Single(networks, e => e.Error!.StartsWith("stopped at the time limit (4s) after ", StringComparison.Ordinal));
        Assert.Equal(2, networks.Count(e => e.Error == "skipped: the time limit (4s) had passed"));
        Assert.Equal("L-BFGS", result.Recommended!.Name);
        Assert.True(result.Recommended.ValidationAccuracy > 0.6);
        Assert.Throws<ArgumentOutOfRangeException>(() => new FusionLeaderboardOptions { TimeLimit = TimeSpan.Zero }.Validate());
    }

    [Fact]
    public void TheBudgetScalesEpochsToTheMeasuredCostAndSkipsWhatWouldNotFinish()
    {
        var network = LeaderboardCandidate.Of(CandidateKind.Fusion, "network", FusionFamily.Network);
        var merge = LeaderboardCandidate.Of(CandidateKind.Fusion, "merge", FusionFamily.Merge);
        var baseline = LeaderboardCandidate.Of(CandidateKind.Baseline, "L-BFGS", FusionFamily.Early, (SweepParameters.EarlyLearner, EarlyFusionLearner.LbfgsMaximumEntropy));
        var single = LeaderboardCandidate.Of(CandidateKind.SingleModality, "photo only", FusionFamily.Network);
        var late = LeaderboardCandidate.Of(CandidateKind.Fusion, "average", FusionFamily.Late);
        Assert.Equal(new[] { 3, 4, 2, 1, 0 }, LeaderboardBudget.Order(new[] { merge, network, single, baseline, late }));   // baseline, late, single, network, merge

        using var budget = new LeaderboardBudget(TimeSpan.FromSeconds(100), maximumEpochs: 15);
        Assert.Equal(15, budget.EpochsFor(network, fits: 1, neuralLeft: 2));   // nothing measured yet: the options' epochs
        Assert.Null(budget.SkipReason(network, 1, 15));
        budget.RecordEpoch(network, 1, TimeSpan.FromSeconds(10));              // 10 s an epoch
        // Its share: 85% of 100 s over two neural candidates, at 10 s an epoch: 4 epochs; at 60 s, never below 2.
        Assert.Equal(4, budget.EpochsFor(network, fits: 1, neuralLeft: 2));
        Assert.Equal(4, budget.EpochsFor(merge, fits: 1, neuralLeft: 2));      // a class not measured: the dearest measured one
        budget.RecordEpoch(merge, 1, TimeSpan.FromSeconds(60));
        Assert.Equal(LeaderboardBudget.MinimumEpochs, budget.EpochsFor(merge, fits: 1, neuralLeft: 2));
        Assert.StartsWith("skipped: it would not finish within the time limit (1m40s): about 2m00s needed, ", budget.SkipReason(merge, 1, 2));
        Assert.Null(budget.SkipReason(baseline, 1, 15));                       // no baseline measured: it runs
        Assert.Equal(TimeSpan.FromMinutes(10), MLNetFusion.Cli.Commands.CommonOptions.Duration("10m", "--time-limit"));
        Assert.Equal(TimeSpan.FromMinutes(90), MLNetFusion.Cli.Commands.CommonOptions.Duration("1h30m", "--time-limit"));
        Assert.Equal(TimeSpan.FromSeconds(90), MLNetFusion.Cli.Commands.CommonOptions.Duration("90", "--time-limit"));
        Assert.Null(MLNetFusion.Cli.Commands.CommonOptions.Duration(null, "--time-limit"));
        var bad = Assert.Throws<ArgumentException>(() => MLNetFusion.Cli.Commands.CommonOptions.Duration("ten minutes", "--time-limit"));
        Assert.StartsWith("--time-limit 'ten minutes' is not a positive duration.", bad.Message);
    }
}
