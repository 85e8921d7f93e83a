using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Merge;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>What every neural leaderboard candidate gets from its context.</summary>
public class LeaderboardContextTests
{
    private static LeaderboardContext Context(int patience) => new(new MLContext(seed: 1),
        new FusionFeaturization(new MLContext().Transforms.CopyColumns("a", "b"), new[] { ModalityOptions.Image("Pixels") }, "Digit", new[] { "a" })
        {
            LabelToKey = new MLContext().Transforms.Conversion.MapValueToKey("Digit"), DenseFeatureColumns = new[] { "Pixels" },
        }, null, 7, null)
    { EarlyStoppingPatience = patience };

    [Fact]
    public void EachModalityGetsThePlainBaselineItsKindNames()
    {
        var text = ModalityOptions.Text("Review.Tokens", "Review");
        text.FeaturesColumnName = "Review.Text";
        var featurization = new FusionFeaturization(new MLContext().Transforms.CopyColumns("a", "b"),
            new[] { ModalityOptions.Tabular("Tabular", "zip, income"), ModalityOptions.Image("Pixels", "photo"), text }, "Label", new[] { "a" })
        {
            LabelToKey = new MLContext().Transforms.Conversion.MapValueToKey("Label"), DenseFeatureColumns = new[] { "Tabular", "Pixels", "Review.Hashed" },
        };
        var baselines = FusionCandidates.Default(featurization).Where(c => c.Kind == CandidateKind.Baseline).Select(c => c.Name).ToList();
        Assert.Contains("zip, income only: LightGBM", baselines);
        Assert.Contains("Review only: n-grams + L-BFGS maximum entropy", baselines);
        Assert.DoesNotContain(baselines, n => n.StartsWith("photo", StringComparison.Ordinal));   // an image's own entry is its CNN
        Assert.Equal(4, baselines.Count);                                                            // and the two concatenations
        Assert.Equal(PlainBaseline.None, ModalityRegistry.Get(ModalityKind.Audio).Baseline);
    }

    [Fact]
    public void NeuralCandidatesGetTheLabelTheEpochsAndEarlyStoppingOnlyWhenAsked()
    {
        var plain = Context(0).Neural(new MergeFusionOptions());
        Assert.Equal(("Digit", 7, 0, 0.0), (plain.LabelColumnName, plain.Epochs, plain.EarlyStoppingPatience, plain.ValidationFraction));
        Assert.Null(plain.Progress);

        var stopping = Context(2).Neural(new MergeFusionOptions { Modalities = { ModalityOptions.Image("Pixels") } });
        Assert.Equal((2, FusionCandidates.Defaults.EarlyStoppingValidationFraction), (stopping.EarlyStoppingPatience, stopping.ValidationFraction));
        stopping.Validate();

        Assert.Throws<ArgumentOutOfRangeException>(() => new FusionLeaderboardOptions { EarlyStoppingPatience = -1 }.Validate());
    }
}
