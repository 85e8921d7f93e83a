using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Trainers.LateFusion;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>A late-fusion member with no signal cannot drag a good member down (issue 23, item 3).</summary>
public class UninformativeMemberTests
{
    private sealed class Row
    {
        public uint Label { get; set; }
        [VectorType(6)] public float[] Signal { get; set; } = Array.Empty<float>();
        [VectorType(6)] public float[] Noise1 { get; set; } = Array.Empty<float>();
        [VectorType(6)] public float[] Noise2 { get; set; } = Array.Empty<float>();
    }

    private static IDataView Raw(MLContext ml, int n, int seed)
    {
        var r = new Random(seed);
        var rows = Enumerable.Range(0, n).Select(_ =>
        {
            uint y = (uint)r.Next(3);
            float[] V(bool signal) => Enumerable.Range(0, 6).Select(k => (float)(r.NextDouble() * 2 - 1 + (signal && k == y ? 1.2 : 0))).ToArray();
            return new Row { Label = y, Signal = V(true), Noise1 = V(false), Noise2 = V(false) };
        }).ToList();
        return ml.Data.LoadFromEnumerable(rows);
    }

    [Theory]
    [InlineData(LateFusionCombiner.Average)]
    [InlineData(LateFusionCombiner.ProductOfExperts)]
    [InlineData(LateFusionCombiner.MajorityVote)]
    [InlineData(LateFusionCombiner.WeightedAverage)]
    public void MembersNoBetterThanThePriorAreLeftOutAndTheGoodMemberDecides(LateFusionCombiner combiner)
    {
        var ml = new MLContext(seed: 1);
        var rawTrain = Raw(ml, 600, 1);
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label").Fit(rawTrain);   // one key order for train and test
        var train = toKey.Transform(rawTrain);
        var test = toKey.Transform(Raw(ml, 400, 2));
        LateFusionMember Member(string column) => new(column, column, ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", column));
        var options = new LateFusionOptions { Members = new() { Member("Signal"), Member("Noise1"), Member("Noise2") }, Combiner = combiner, NumberOfFolds = 3, Seed = 3 };
        using var fused = ml.MulticlassClassification.Trainers.LateFusion(options).Fit(train);
        Assert.Equal(new[] { "Noise1", "Noise2" }, fused.UninformativeMembers);
        double alone = ml.MulticlassClassification.Evaluate(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Signal").Fit(train).Transform(test)).MicroAccuracy;
        double together = ml.MulticlassClassification.Evaluate(fused.Transform(test)).MicroAccuracy;
        Assert.True(alone > 0.55, $"the signal member alone: {alone:P1}");   // chance is 33%
        Assert.True(together >= alone - 0.01, $"{combiner}: {together:P1} with the noise members, {alone:P1} without");

        // The choice survives the model file.
        using var file = new MemoryStream();
        ml.Model.SaveFusionModel(fused, train.Schema, file);
        var loaded = (LateFusionTransformer)ml.Model.LoadFusionModel(new MemoryStream(file.ToArray()), out _);
        Assert.Equal(fused.UninformativeMembers, loaded.UninformativeMembers);
        Assert.Equal(fused.Transform(test).GetColumn<float[]>("Score").ToArray(), loaded.Transform(test).GetColumn<float[]>("Score").ToArray());

        // Switched off, every member votes again (the behaviour before).
        options.DropUninformativeMembers = false;
        using var all = ml.MulticlassClassification.Trainers.LateFusion(options).Fit(train);
        Assert.Empty(all.UninformativeMembers);
    }
}
