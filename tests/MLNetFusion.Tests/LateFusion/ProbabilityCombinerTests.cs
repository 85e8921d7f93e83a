using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetFusion.Onnx;
using MLNetFusion.Trainers.LateFusion;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// One combiner abstraction (issue 44): each rule's CPU arithmetic and its ONNX nodes, side by side in one class, give
/// the same probabilities on random rows with members missing; and a new rule costs one class (this file's).
/// </summary>
public class ProbabilityCombinerTests
{
    private const int Members = 3, Classes = 4, Rows = 200;

    /// <summary>A rule the library does not have, written as a user would: the normalised maximum of the present members' probabilities.</summary>
    private sealed class MaximumRule : ProbabilityCombiner
    {
        public override string Name => "maximum";

        protected override void CombinePresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, int n, Span<float> result)
        {
            result.Fill(float.NegativeInfinity);
            for (int m = 0; m < p.Count; m++)
                if (present[m])
                    for (int c = 0; c < result.Length; c++) result[c] = Math.Max(result[c], p[m][c]);
            float sum = 0;
            foreach (var v in result) sum += v;
            for (int c = 0; c < result.Length; c++) result[c] /= sum;
        }

        public override string ExportOnnx(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present, int classes)
        {
            // An absent member reads -1, below every probability.
            var masked = p.Select((pi, i) => g.Where(g.Cast(present[i], OnnxElementType.Bool), pi, g.Scalar(-1f))).ToArray();
            var max = masked.Aggregate(g.Max);
            return g.Div(max, g.ReduceSum(max, true, 1));
        }
    }

    public static TheoryData<string> Rules() => new() { "Average", "WeightedAverage", "ProductOfExperts", "MajorityVote", "Average masked", "ProductOfExperts masked", "MajorityVote masked", "maximum" };

    private static readonly double[] Weights = { 0.5, 0, 1.5 };

    private static ProbabilityCombiner Rule(string name) => name switch
    {
        "maximum" => new MaximumRule(),
        "WeightedAverage" => ProbabilityCombiner.For(LateFusionCombiner.WeightedAverage, Weights),
        _ when name.EndsWith(" masked", StringComparison.Ordinal) => ProbabilityCombiner.For(Enum.Parse<LateFusionCombiner>(name[..^7]), Weights),
        _ => ProbabilityCombiner.For(Enum.Parse<LateFusionCombiner>(name), null),
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void TheCpuArithmeticAndTheOnnxNodesGiveTheSameProbabilities(string name)
    {
        var rule = Rule(name);
        var rand = new Random(7);
        // Random distributions (some peaked, some with ties for the vote), each member missing from about a third of the rows
        // and at least one member present in every row; the middle member alone in some rows (where the mask must keep it).
        var p = new float[Members][][];
        var present = new bool[Members][];
        for (int m = 0; m < Members; m++) { p[m] = new float[Rows][]; present[m] = new bool[Rows]; }
        for (int r = 0; r < Rows; r++)
        {
            for (int m = 0; m < Members; m++)
            {
                var v = Enumerable.Range(0, Classes).Select(_ => r % 10 == 0 ? 1f : (float)Math.Pow(rand.NextDouble(), 3)).ToArray();
                float s = v.Sum();
                p[m][r] = v.Select(x => x / s).ToArray();
                present[m][r] = rand.NextDouble() > 0.33;
            }
            if (r % 7 == 0) { present[0][r] = false; present[1][r] = true; present[2][r] = false; }
            if (!present.Any(x => x[r])) present[rand.Next(Members)][r] = true;
        }

        var graph = new ProtoOnnxGraph();
        var pNames = Enumerable.Range(0, Members).Select(m => $"p{m}").ToArray();
        var presentNames = Enumerable.Range(0, Members).Select(m => $"present{m}").ToArray();
        graph.Identity(rule.ExportOnnx(graph, pNames, presentNames, Classes), "score");
        graph.RemoveUnusedInitializers();
        foreach (var n in pNames) graph.Graph.Input.Add(ProtoOnnxGraph.ValueInfo(n, OnnxElementType.Float, Classes));
        foreach (var n in presentNames) graph.Graph.Input.Add(ProtoOnnxGraph.ValueInfo(n, OnnxElementType.Float, 1));
        graph.Graph.Output.Add(ProtoOnnxGraph.ValueInfo("score", OnnxElementType.Float, Classes));
        var model = new global::Onnx.ModelProto { IrVersion = 8, Graph = graph.Graph };
        model.OpsetImport.Add(new global::Onnx.OperatorSetIdProto { Domain = "", Version = OnnxGraph.Opset });
        using var session = new InferenceSession(model.ToByteArray());
        var inputs = new List<NamedOnnxValue>();
        for (int m = 0; m < Members; m++)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor(pNames[m], new DenseTensor<float>(p[m].SelectMany(x => x).ToArray(), new[] { Rows, Classes })));
            inputs.Add(NamedOnnxValue.CreateFromTensor(presentNames[m], new DenseTensor<float>(present[m].Select(x => x ? 1f : 0f).ToArray(), new[] { Rows, 1 })));
        }
        using var results = session.Run(inputs);
        var onnx = results.Single().AsTensor<float>();

        var cpu = new float[Classes];
        double largest = 0;
        int agreeingLabels = 0;
        for (int r = 0; r < Rows; r++)
        {
            rule.Combine(p.Select(m => m[r]).ToArray(), present.Select(m => m[r]).ToArray(), cpu);
            Assert.True(Math.Abs(cpu.Sum() - 1) < 1e-5, $"{name}, row {r}: the probabilities sum to {cpu.Sum()}");
            for (int c = 0; c < Classes; c++) largest = Math.Max(largest, Math.Abs(cpu[c] - onnx[r, c]));
            int a = Array.IndexOf(cpu, cpu.Max()), b = Enumerable.Range(0, Classes).OrderByDescending(c => onnx[r, c]).ThenBy(c => c).First();
            if (a == b) agreeingLabels++;
        }
        Assert.True(largest <= 1e-5, $"{name}: largest difference between the CPU and ONNX sides {largest:E2}");
        Assert.Equal(Rows, agreeingLabels);
    }

    [Fact]
    public void AMemberWeightedZeroIsLeftOutUnlessItIsAllTheRowHas()
    {
        var rule = ProbabilityCombiner.For(LateFusionCombiner.Average, new double[] { 1, 0 });
        var p = new[] { new[] { 0.9f, 0.1f }, new[] { 0.1f, 0.9f } };
        var result = new float[2];
        rule.Combine(p, new[] { true, true }, result);
        Assert.Equal(new[] { 0.9f, 0.1f }, result);
        rule.Combine(p, new[] { false, true }, result);
        Assert.Equal(new[] { 0.1f, 0.9f }, result);
        var none = Assert.Throws<InvalidOperationException>(() => rule.Combine(p, new[] { false, false }, result));
        Assert.Equal("No member is present for this row.", none.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ProbabilityCombiner.For(LateFusionCombiner.Stacking, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProbabilityCombiner.WeightedAverage(new[] { 1.0, -1 }));
    }

    [Fact]
    public void ARegisteredRuleOfYourOwnCombinesLateFusionAndIsSavedLoadedAndExportedByItsName()
    {
        // What a new combiner costs: its class (MaximumRule above) and one Register call; no library file changes.
        ProbabilityCombiner.Register(new MaximumRule());
        ProbabilityCombiner.Register(new MaximumRule());   // again: nothing happens
        var ml = new Microsoft.ML.MLContext(seed: 1);
        var train = ToyRow.Load(ml, ToyRow.Make(400, 1));
        var test = ToyRow.Load(ml, ToyRow.Make(200, 2));
        var t = ml.MulticlassClassification.Trainers;
        var options = new LateFusionOptions
        {
            Members = { new("image", "Image", t.LbfgsMaximumEntropy("Label", "Image")), new("tab", "Tab", t.LbfgsMaximumEntropy("Label", "Tab")) },
            Rule = new MaximumRule(), Seed = 1, NumberOfFolds = 3,
        };
        using var model = t.LateFusion(options).Fit(train);
        Assert.Equal("maximum", model.RegisteredRule);
        var output = model.Transform(test);
        var image = Columns.Vectors(output, "Score.image");
        var tab = Columns.Vectors(output, "Score.tab");
        var score = Columns.Vectors(output, "Score");
        var rule = new MaximumRule();
        var expected = new float[score[0].Length];
        for (int r = 0; r < score.Count; r++)
        {
            rule.Combine(new[] { image[r], tab[r] }, new[] { true, true }, expected);
            for (int c = 0; c < expected.Length; c++) Assert.Equal(expected[c], score[r][c], 6);
        }
        double accuracy = ml.MulticlassClassification.Evaluate(output).MicroAccuracy;
        Assert.True(accuracy > 0.4, $"accuracy {accuracy:P1} (chance 25%)");

        // Saved by its name, loaded through the registration, and exported through its own ONNX nodes.
        var folder = TestData.TempFolder("registered-rule");
        ml.Model.SaveFusionModel(model, train.Schema, Path.Combine(folder, "late.zip"));
        var loaded = ml.Model.LoadFusionModel(Path.Combine(folder, "late.zip"), out _);
        Assert.Equal(score, Columns.Vectors(loaded.Transform(test), "Score"));
        (loaded as IDisposable)?.Dispose();
        var export = ml.Model.ExportFusionToOnnx(model, test.Schema, Path.Combine(folder, "late.onnx"));
        var (onnxScores, _) = OnnxExportTests.RunOnnx(Path.Combine(folder, "late.onnx"), test, export);
        double worst = score.Zip(onnxScores).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
        Assert.True(worst <= 1e-5, $"largest probability difference {worst:G3}");

        // A rule that is not registered could not be loaded: late fusion refuses it before fitting; a built-in name is refused.
        var unregistered = new LateFusionOptions { Members = options.Members, Rule = new RenamedMaximum() };
        Assert.StartsWith("The combining rule 'renamed maximum' is not registered, so a model that uses it could not be loaded.", Assert.Throws<ArgumentException>(unregistered.Validate).Message);
        Assert.StartsWith("A registered combiner needs a name of its own, not 'average'.", Assert.Throws<ArgumentException>(() => ProbabilityCombiner.Register(new AverageImpostor())).Message);
    }

    private sealed class RenamedMaximum : ProbabilityCombiner
    {
        private readonly MaximumRule _inner = new();
        public override string Name => "renamed maximum";
        protected override void CombinePresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, int n, Span<float> result) => _inner.Combine(p, present, result);
        public override string ExportOnnx(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present, int classes) => _inner.ExportOnnx(g, p, present, classes);
    }

    private sealed class AverageImpostor : ProbabilityCombiner
    {
        public override string Name => "average";
        protected override void CombinePresent(IReadOnlyList<float[]> p, IReadOnlyList<bool> present, int n, Span<float> result) { }
        public override string ExportOnnx(OnnxGraph g, IReadOnlyList<string> p, IReadOnlyList<string> present, int classes) => p[0];
    }
}
