using Microsoft.ML;
using MLNetFusion.Distributed;
using MLNetFusion.Onnx;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Transforms.Audio;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Options types check themselves (issue 44): <c>Validate()</c> names the bad member with a hint, and the component that takes them calls it.</summary>
public class OptionsValidationTests
{
    private static T Throws<T>(Action validate, string parameter, string message) where T : ArgumentException
    {
        var e = Assert.Throws<T>(validate);
        Assert.Equal(parameter, e.ParamName);
        Assert.StartsWith(message, e.Message);
        Assert.Contains("Hint:", e.Message);
        return e;
    }

    [Fact]
    public void LateFusionOptionsNameTheBadMember()
    {
        var ml = new MLContext(seed: 1);
        LateFusionMember Member(string name) => new(name, "Features", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
        Throws<ArgumentException>(() => new LateFusionOptions().Validate(), "Members", "Late fusion needs at least one member.");
        Throws<ArgumentException>(() => new LateFusionOptions { Members = { Member("a"), Member("a") } }.Validate(), "Members", "Member name 'a' is used twice; names must be unique.");
        Throws<ArgumentOutOfRangeException>(() => new LateFusionOptions { Members = { Member("a") }, NumberOfFolds = 1 }.Validate(), "NumberOfFolds", "NumberOfFolds must be at least 2.");
        Throws<ArgumentOutOfRangeException>(() => new LateFusionOptions { Members = { Member("a") }, Combiner = (LateFusionCombiner)9 }.Validate(), "Combiner", "Combiner is not a LateFusionCombiner.");
        Throws<ArgumentException>(() => new LateFusionOptions { Members = { Member("a") }, Combiner = LateFusionCombiner.Stacking }.Validate(), "MetaLearner", "Stacking needs a meta-learner.");
        new LateFusionOptions { Members = { Member("a"), Member("b") } }.Validate();
        // The trainer validates what it is given.
        Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions { Members = { Member("a") }, NumberOfFolds = 0 }), "NumberOfFolds", "NumberOfFolds must be at least 2.");
    }

    [Fact]
    public void OnnxOptionsNameTheBadMember()
    {
        Throws<ArgumentException>(() => new FusionOnnxExportOptions { OutputColumns = new[] { "Score", "Score" } }.Validate(), "OutputColumns", "OutputColumns must name at least one column, each once.");
        Throws<ArgumentException>(() => new FusionOnnxExportOptions { OutputColumns = Array.Empty<string>() }.Validate(), "OutputColumns", "OutputColumns must name at least one column, each once.");
        Throws<ArgumentOutOfRangeException>(() => new OnnxRuntimeServingOptions { BatchSize = 0 }.Validate(), "BatchSize", "BatchSize must be positive.");
        Throws<ArgumentOutOfRangeException>(() => new OnnxRuntimeServingOptions { Threads = 0 }.Validate(), "Threads", "Threads must be positive (or null for TorchSharp's thread count).");
        Throws<ArgumentException>(() => new OnnxRuntimeServingOptions { Export = new FusionOnnxExportOptions { OutputColumns = new[] { " " } } }.Validate(), "OutputColumns", "OutputColumns must name at least one column, each once.");
        new OnnxRuntimeServingOptions().Validate();
        new FusionOnnxExportOptions().Validate();
    }

    [Fact]
    public void DistributedSweepOptionsNameTheBadMember()
    {
        Throws<ArgumentException>(() => new FusionWorkerOptions { Name = " " }.Validate(), "Name", "FusionWorkerOptions.Name is required.");
        Throws<ArgumentOutOfRangeException>(() => new FusionWorkerOptions { HeartbeatInterval = TimeSpan.Zero }.Validate(), "HeartbeatInterval", "FusionWorkerOptions.HeartbeatInterval must be positive.");
        Throws<ArgumentOutOfRangeException>(() => new FusionWorkerOptions { TorchThreads = -1 }.Validate(), "TorchThreads", "FusionWorkerOptions.TorchThreads must be 0 (leave them) or positive.");
        Throws<ArgumentOutOfRangeException>(() => new FusionStudyOptions { LeaseTimeout = TimeSpan.FromSeconds(-1) }.Validate(), "LeaseTimeout", "FusionStudyOptions.LeaseTimeout must be positive.");
        new FusionWorkerOptions().Validate();
        new FusionStudyOptions().Validate();
    }

    [Fact]
    public void FrameStatisticsOptionsNameTheMissingColumn()
    {
        Throws<ArgumentException>(() => new FrameStatisticsOptions { OutputColumnName = "" }.Validate(), "OutputColumnName", "FrameStatisticsOptions.OutputColumnName is required.");
        Throws<ArgumentException>(() => new FrameStatisticsOptions { InputColumnName = null! }.Validate(), "InputColumnName", "FrameStatisticsOptions.InputColumnName is required.");
        Throws<ArgumentException>(() => new FrameStatisticsEstimator(new MLContext(), new FrameStatisticsOptions { InputColumnName = " " }), "InputColumnName", "FrameStatisticsOptions.InputColumnName is required.");
        new FrameStatisticsOptions().Validate();
    }
}
