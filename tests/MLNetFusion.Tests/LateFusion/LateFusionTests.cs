using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Early;
using Xunit;

namespace MLNetFusion.Tests;

public class LateFusionMathTests
{
    private static readonly float[][] P = { new[] { 0.6f, 0.3f, 0.1f }, new[] { 0.2f, 0.5f, 0.3f } };

    private static float[] Combine(LateFusionCombiner c, bool[] present, double[]? w = null, float[][]? p = null)
    {
        var r = new float[3];
        LateFusionMath.Combine(c, p ?? P, present, w, r);
        return r;
    }

    [Fact]
    public void AverageAndWeightedAverage()
    {
        Assert.Equal(new[] { 0.4f, 0.4f, 0.2f }, Combine(LateFusionCombiner.Average, new[] { true, true }));
        var w = Combine(LateFusionCombiner.WeightedAverage, new[] { true, true }, new[] { 0.75, 0.25 });
        Assert.Equal(0.5f, w[0], 6); Assert.Equal(0.35f, w[1], 6); Assert.Equal(0.15f, w[2], 6);
    }

    [Fact]
    public void ProductOfExpertsIsTheNormalisedGeometricMean()
    {
        var r = Combine(LateFusionCombiner.ProductOfExperts, new[] { true, true });
        double g0 = Math.Sqrt(0.6 * 0.2), g1 = Math.Sqrt(0.3 * 0.5), g2 = Math.Sqrt(0.1 * 0.3), z = g0 + g1 + g2;
        Assert.Equal(g0 / z, r[0], 5); Assert.Equal(g1 / z, r[1], 5); Assert.Equal(g2 / z, r[2], 5);
    }

    [Fact]
    public void MajorityVoteBreaksTiesByMeanProbabilityThenIndex()
    {
        // One vote each for classes 0 and 1: mean probabilities 0.4 and 0.4 tie too, so the lower index (0) wins.
        var r = Combine(LateFusionCombiner.MajorityVote, new[] { true, true });
        Assert.True(r[0] > r[1] && r[1] > r[2]);
        Assert.Equal(0f, r[2]);
        // A third member for class 1 makes it the majority.
        var three = new[] { P[0], P[1], new[] { 0.1f, 0.8f, 0.1f } };
        var r3 = Combine(LateFusionCombiner.MajorityVote, new[] { true, true, true }, p: three);
        Assert.True(r3[1] > r3[0]);
        // Tie between classes with different mean probabilities: the higher mean wins.
        var tie = new[] { new[] { 0.5f, 0.4f, 0.1f }, new[] { 0.05f, 0.9f, 0.05f } };
        var rt = Combine(LateFusionCombiner.MajorityVote, new[] { true, true }, p: tie);
        Assert.True(rt[1] > rt[0]);
    }

    [Fact]
    public void MissingMembersAreLeftOutAndWeightsRenormalised()
    {
        Assert.Equal(P[1], Combine(LateFusionCombiner.Average, new[] { false, true }));
        Assert.Equal(P[1], Combine(LateFusionCombiner.WeightedAverage, new[] { false, true }, new[] { 0.9, 0.1 }));
        var pe = Combine(LateFusionCombiner.ProductOfExperts, new[] { true, false });
        for (int i = 0; i < 3; i++) Assert.Equal(P[0][i], pe[i], 5);
        Assert.Throws<InvalidOperationException>(() => Combine(LateFusionCombiner.Average, new[] { false, false }));
    }

    [Fact]
    public void ScoresBecomeProbabilitiesByTheDocumentedRule()
    {
        var p = new float[3];
        LateFusionMath.ToProbabilities(new[] { 0.2f, 0.3f, 0.5f }, p);
        Assert.Equal(new[] { 0.2f, 0.3f, 0.5f }, p);
        LateFusionMath.ToProbabilities(new[] { 1f, 2f, 3f }, p);     // margins: softmax
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Assert.Equal(Math.Exp(3) / z, p[2], 5);
    }
}

public class LateFusionTrainerTests
{
    private static IDataView Data(MLContext ml, int n, int seed) => ToyRow.Load(ml, ToyRow.Make(n, seed));

    private static List<LateFusionMember> Members(MLContext ml) => new()
    {
        new("image", "Image", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Image")),
        new("tab", "Tab", ml.MulticlassClassification.Trainers.LightGbm("Label", "Tab", numberOfIterations: 30, minimumExampleCountPerLeaf: 5)),
    };

    [Theory]
    [InlineData(LateFusionCombiner.Average)]
    [InlineData(LateFusionCombiner.WeightedAverage)]
    [InlineData(LateFusionCombiner.ProductOfExperts)]
    [InlineData(LateFusionCombiner.MajorityVote)]
    [InlineData(LateFusionCombiner.Stacking)]
    public void EachCombinerFusesMembersThatEachSeeHalfTheAnswer(LateFusionCombiner combiner)
    {
        var ml = new MLContext(seed: 1);
        var train = Data(ml, 500, 1);
        var test = Data(ml, 300, 2);
        var estimator = ml.MulticlassClassification.Trainers.LateFusion(Members(ml), combiner);
        using var model = estimator.Fit(train);
        var output = model.Transform(test);
        var predicted = estimator.GetOutputSchema(MLNetFusion.Data.SchemaShapes.FromSchema(train.Schema));
        foreach (var c in predicted) Assert.NotNull(output.Schema.GetColumnOrNull(c.Name));
        var fused = ml.MulticlassClassification.Evaluate(output).MicroAccuracy;
        double best = 0;
        foreach (var member in new[] { "image", "tab" })
        {
            var alone = Columns.Vectors(output, "Score." + member);
            var labels = Columns.Keys(output, "Label");
            double acc = alone.Select((p, i) => Array.IndexOf(p, p.Max()) + 1 == labels[i] ? 1.0 : 0.0).Average();
            // Each modality carries one bit of the 2-bit label: alone at most ~50%.
            Assert.True(acc < 0.6, $"{member} alone {acc:P1}");
            best = Math.Max(best, acc);
        }
        switch (combiner)
        {
            case LateFusionCombiner.WeightedAverage:
            case LateFusionCombiner.MajorityVote:
                // A weighted mean of two half-informative members cannot express "both bits"; it must not lose to the best member
                // by more than noise: 4 points is 1.4 standard errors of an accuracy near 50% on these 300 rows (the weighted
                // average measured 50.0% against 53.0% on an AMD EPYC, whose libtorch kernels round differently).
                Assert.True(fused >= best - 0.04, $"{combiner}: {fused:P1} vs best member {best:P1}");
                break;
            default:
                Assert.True(fused > best + 0.15, $"{combiner}: {fused:P1} vs best member {best:P1}");
                break;
        }
        if (combiner == LateFusionCombiner.WeightedAverage) Assert.Equal(1.0, model.Weights!.Sum(), 6);
    }

    [Fact]
    public void CombinersSharingMemberFitsGetTheSameMembersAndFoldsAsOneFitWithTheFirstsSeed()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.Cache(Data(ml, 400, 1));
        var test = Data(ml, 200, 2);
        List<LateFusionMember> Members(MLContext ml) => new()
        {
            new("image", "Image", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Image")),
            new("torch", "Tab", ml.MulticlassClassification.Trainers.FusionMlp(new FusionMlpOptions { FeatureColumnName = "Tab", Epochs = 4 })),
        };
        LateFusionOptions Options(MLContext ml, LateFusionCombiner c, SharedMemberFits? shared) => new()
        {
            Members = Members(ml), Combiner = c, NumberOfFolds = 3, Seed = 7, MetaLearner = ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "LateFusionFeatures"), SharedFits = shared,
        };
        using var shared = new SharedMemberFits();
        var stepsOf = new List<LateFusionProgress>();
        LateFusionTransformer Fit(LateFusionCombiner c)
        {
            var o = Options(ml, c, shared);
            o.Progress = stepsOf.Add;
            return ml.MulticlassClassification.Trainers.LateFusion(o).Fit(train);
        }
        var weighted = Fit(LateFusionCombiner.WeightedAverage);
        int firstSteps = stepsOf[^1].Steps;
        stepsOf.Clear();
        var stacking = Fit(LateFusionCombiner.Stacking);
        Assert.Equal(2 * (1 + 3), firstSteps);            // members, then members × folds
        Assert.Equal(0, stepsOf[^1].Steps);               // nothing fitted again: members and out-of-fold rows reused
        Assert.Equal(1, shared.Reused);
        Assert.Same(weighted.Members[1], stacking.Members[1]);

        // The first shared fit equals the same fit on its own in a fresh context: sharing changes what is fitted again, not the result.
        var fresh = new MLContext(seed: 1);
        _ = (fresh.Data.Cache(Data(fresh, 400, 1)), Data(fresh, 200, 2));   // the same draws from the context's seed as above
        using var alone = fresh.MulticlassClassification.Trainers.LateFusion(Options(fresh, LateFusionCombiner.WeightedAverage, null)).Fit(train);
        Assert.Equal(alone.Weights!, weighted.Weights!);
        Assert.Equal(Columns.Vectors(alone.Transform(test), "Score"), Columns.Vectors(weighted.Transform(test), "Score"));

        // Disposing one model leaves the shared members to the other; the shared fits dispose them.
        var before = Columns.Vectors(stacking.Transform(test), "Score");
        weighted.Dispose();
        Assert.Equal(before, Columns.Vectors(stacking.Transform(test), "Score"));
        stacking.Dispose();
        Assert.Equal(before, Columns.Vectors(stacking.Transform(test), "Score"));   // still the shared members'
        shared.Dispose();
        Assert.ThrowsAny<Exception>(() => Columns.Vectors(stacking.Transform(test), "Score"));
    }

    [Fact]
    public void OutOfFoldPredictionsNeverSeeTheirOwnLabel()
    {
        // A member that memorises its training rows from pure noise: in-sample it looks perfect, out of fold it is at chance.
        var ml = new MLContext(seed: 1);
        var rows = ToyRow.Make(400, 3);
        var r = new Random(5);
        foreach (var row in rows) row.Tab = Enumerable.Range(0, 4).Select(_ => (float)r.NextDouble()).ToArray();
        var data = ToyRow.Load(ml, rows);
        var memoriser = new LateFusionMember("noise", "Tab", ml.MulticlassClassification.Trainers.LightGbm("Label", "Tab", numberOfLeaves: 64, minimumExampleCountPerLeaf: 1, numberOfIterations: 200));
        var trainer = ml.MulticlassClassification.Trainers.LateFusion(new[] { memoriser }, LateFusionCombiner.Stacking);
        using var model = trainer.Fit(data);
        var inSample = ml.MulticlassClassification.Evaluate(model.Members[0].Transform(data)).MicroAccuracy;
        Assert.True(inSample > 0.9, $"the memoriser should fit its training rows: {inSample:P1}");
        var fused = ml.MulticlassClassification.Evaluate(model.Transform(ToyRow.Load(ml, ToyRow.Make(200, 9)))).MicroAccuracy;
        Assert.True(fused < 0.4, $"stacking fitted on out-of-fold predictions stays at chance on new rows: {fused:P1}");
        var oof = trainer.OutOfFold(data, 4, 11);
        var (probs, labels) = (oof.Probabilities, oof.Labels);
        Assert.Equal(400, labels.Count);
        double oofAcc = probs.Select((p, i) => Array.IndexOf(p[0], p[0].Max()) == labels[i] ? 1.0 : 0.0).Average();
        Assert.True(oofAcc < 0.4, $"out-of-fold accuracy of the memoriser must be near chance, got {oofAcc:P1}");
    }

    [Fact]
    public void MissingModalityUsesTheOtherMembersAndANoModalityRowIsAnError()
    {
        var ml = new MLContext(seed: 1);
        using var model = ml.MulticlassClassification.Trainers.LateFusion(Members(ml)).Fit(Data(ml, 300, 1));
        var rows = ToyRow.Make(3, 4);
        rows[0].Tab = Enumerable.Repeat(float.NaN, 4).ToArray();
        var output = model.Transform(ToyRow.Load(ml, rows));
        var score = Columns.Vectors(output, "Score");
        var image = Columns.Vectors(output, "Score.image");
        Assert.Equal(image[0], score[0]);
        rows[2].Image = Enumerable.Repeat(float.NaN, 64).ToArray();
        rows[2].Tab = Enumerable.Repeat(float.NaN, 4).ToArray();
        var ex = Assert.Throws<InvalidOperationException>(() => Columns.Vectors(model.Transform(ToyRow.Load(ml, rows)), "Score"));
        Assert.StartsWith("Row 2: no late-fusion member has its input", ex.Message);
    }

    [Fact]
    public void MembersOfEachKindAndPredictionEngine()
    {
        var ml = new MLContext(seed: 1);
        var members = new List<LateFusionMember>
        {
            new("linear", "Image", ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", "Image", maximumNumberOfIterations: 20)),
            new("tree", "Tab", ml.MulticlassClassification.Trainers.LightGbm("Label", "Tab", numberOfIterations: 20)),
            new("torch", "Tab", ml.MulticlassClassification.Trainers.FusionMlp(new FusionMlpOptions { FeatureColumnName = "Tab", Epochs = 5 })),
        };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LateFusion(members));
        var model = pipeline.Fit(ml.Data.LoadFromEnumerable(ToyRow.Make(300, 1)));
        var rows = ToyRow.Make(20, 6);
        var batch = Columns.Vectors(model.Transform(ml.Data.LoadFromEnumerable(rows)), "Score");
        var engine = ml.Model.CreatePredictionEngine<ToyRow, ScoreOnly>(model);
        for (int i = 0; i < rows.Count; i++)
        {
            var p = engine.Predict(rows[i]).Score;
            for (int k = 0; k < p.Length; k++) Assert.True(Math.Abs(p[k] - batch[i][k]) <= 1e-5);
        }
        model.LastTransformer.Dispose();
    }

    public sealed class ScoreOnly { public float[] Score { get; set; } = Array.Empty<float>(); }

    public sealed class TextRow
    {
        public uint Label { get; set; }
        public string Text { get; set; } = "";
        [VectorType(4)] public float[] Tab { get; set; } = Array.Empty<float>();
    }

    /// <summary>Generated text: a sentence whose adjective tells bit 0 of the label, padded with filler words; tabular tells bit 1.</summary>
    private static List<TextRow> TextRows(int n, int seed)
    {
        var r = new Random(seed);
        string[] filler = { "the", "item", "looks", "quite", "very", "somewhat", "today", "in", "light", "box" };
        string[][] cue = { new[] { "round", "circular", "curved" }, new[] { "angular", "boxy", "cornered" } };
        return ToyRow.Make(n, seed).Select(t =>
        {
            var words = Enumerable.Range(0, 6).Select(_ => filler[r.Next(filler.Length)]).ToList();
            var pool = cue[(int)(t.Label & 1)];
            if (r.NextDouble() < 0.9) words.Insert(r.Next(words.Count), pool[r.Next(pool.Length)]);
            return new TextRow { Label = t.Label, Text = string.Join(' ', words), Tab = t.Tab };
        }).ToList();
    }

    [Fact]
    public void TextIsAFourthModalityThroughFeaturizeText()
    {
        var ml = new MLContext(seed: 1);
        IDataView Load(List<TextRow> rows) => ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var members = new List<LateFusionMember>
        {
            new("text", "Text", ml.Transforms.Text.FeaturizeText("TextFeatures", "Text").Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", "TextFeatures", maximumNumberOfIterations: 30))),
            new("tab", "Tab", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Tab")),
        };
        using var model = ml.MulticlassClassification.Trainers.LateFusion(members, LateFusionCombiner.ProductOfExperts).Fit(Load(TextRows(500, 1)));
        var testRows = TextRows(300, 2);
        testRows[0].Text = "";   // empty text: the text member is left out for this row
        var output = model.Transform(Load(testRows));
        var acc = ml.MulticlassClassification.Evaluate(output).MicroAccuracy;
        Assert.True(acc > 0.8, $"text + tabular late fusion: {acc:P1}");
        var tab = Columns.Vectors(output, "Score.tab")[0];
        var fused = Columns.Vectors(output, "Score")[0];
        for (int k = 0; k < 4; k++) Assert.Equal(tab[k], fused[k], 5);
    }

    [Fact]
    public void MissingOrMistypedMemberColumnHasAClearError()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml, 50, 1);
        var missing = ml.MulticlassClassification.Trainers.LateFusion(new[] { new LateFusionMember("audio", "LogMel", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "LogMel")) });
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => missing.Fit(data));
        Assert.StartsWith("Could not find input column 'LogMel' of late-fusion member 'audio'.", ex.Message);
        var ints = ml.Data.LoadFromEnumerable(new[] { new { Label = 1u, Count = 3 } });
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ints).Transform(ints);
        var mistyped = ml.MulticlassClassification.Trainers.LateFusion(new[] { new LateFusionMember("count", "Count", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Count")) });
        var ex2 = Assert.Throws<ArgumentOutOfRangeException>(() => mistyped.Fit(keyed));
        Assert.StartsWith("Schema mismatch for input column 'Count': expected Vector<Single> of known size, got Int32.", ex2.Message);
    }
}

/// <summary>NAS-BERT (Microsoft.ML.TorchSharp's TextClassification) downloads its weights on first Fit; without a download we check that it composes.</summary>
public class NasBertMemberTests
{
    [Fact]
    public void TextClassificationComposesAsALateFusionMemberWithoutDownloading()
    {
        var ml = new MLContext(seed: 1);
        var rows = new[] { new { Label = "a", Text = "round box", Tab = new float[] { 1, 2 } } };
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var shape = MLNetFusion.Data.SchemaShapes.FromSchema(data.Schema);
        var bert = Microsoft.ML.TorchSharp.TorchSharpCatalog.TextClassification(ml.MulticlassClassification.Trainers, labelColumnName: "Label", sentence1ColumnName: "Text");
        var bertOut = bert.GetOutputSchema(shape);
        Assert.Contains(bertOut, c => c.Name == "Score" && c.ItemType == NumberDataViewType.Single);
        Assert.Contains(bertOut, c => c.Name == "PredictedLabel" && c.IsKey);
        var late = ml.MulticlassClassification.Trainers.LateFusion(new[] { new LateFusionMember("bert", "Text", bert) });
        var lateOut = late.GetOutputSchema(shape);
        Assert.Contains(lateOut, c => c.Name == "Score.bert");
        Assert.Contains(lateOut, c => c.Name == "PredictedLabel" && c.IsKey);
    }
}

/// <summary>A member that returns NaN scores is an error naming the row and the member, never a NaN fused score.</summary>
public class LateFusionNonFiniteMemberTests
{
    public sealed class ScoreOnly
    {
        [Microsoft.ML.Data.VectorType(4)] public float[] Score { get; set; } = new float[4];
    }

    public sealed class TabOnly
    {
        [Microsoft.ML.Data.VectorType(5)] public float[] Tab { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void ANaNMemberScoreIsAnErrorNamingTheRowAndTheMember()
    {
        var ml = new MLContext(seed: 1);
        var data = ToyRow.Load(ml, ToyRow.Make(80, 1));
        // A "member" whose scores are NaN on rows where the tabular modality is present.
        var broken = ml.Transforms.CustomMapping<TabOnly, ScoreOnly>((input, output) =>
        {
            output.Score = input.Tab[0] > 0.5f ? new[] { float.NaN, 0, 0, 0 } : new[] { 0.25f, 0.25f, 0.25f, 0.25f };
        }, contractName: null);
        var members = new List<LateFusionMember>
        {
            new("image", "Image", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Image")),
            new("broken", "Tab", broken),
        };
        // Checking members out of fold (the default) meets the NaN while fitting; without that check, at prediction.
        var atFit = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions { Members = members, Combiner = LateFusionCombiner.Average }).Fit(data));
        Assert.Matches(@"^Row \d+: late-fusion member 'broken' produced a non-finite score \(NaN for class 0\) in 'Score'\.", atFit.Message);
        using var model = ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions { Members = members, Combiner = LateFusionCombiner.Average, DropUninformativeMembers = false }).Fit(data);
        var ex = Assert.Throws<InvalidOperationException>(() => model.Transform(data).GetColumn<Microsoft.ML.Data.VBuffer<float>>("Score").ToList());
        Assert.Matches(@"^Row \d+: late-fusion member 'broken' produced a non-finite score \(NaN for class 0\) in 'Score'\.", ex.Message);
        Assert.Contains("Hint: the member's trainer diverged", ex.Message);
    }
}
