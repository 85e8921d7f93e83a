using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNetFusion.Models;
using MLNetFusion.Onnx;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Transforms.Audio;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Four modalities (image, raw audio, tabular, token ids), some rows missing the image or the audio.</summary>
public sealed class OnnxRow
{
    public uint Label { get; set; }
    [VectorType(1, 8, 8)] public float[] Image { get; set; } = Array.Empty<float>();
    [VectorType(Samples)] public float[] Audio { get; set; } = Array.Empty<float>();
    [VectorType(4)] public float[] Tab { get; set; } = Array.Empty<float>();
    [VectorType(6)] public float[] Tokens { get; set; } = Array.Empty<float>();
    /// <summary>No signal: a late-fusion member on it is left out as uninformative.</summary>
    [VectorType(3)] public float[] Noise { get; set; } = Array.Empty<float>();

    public const int Samples = 1024, Rate = 8000;

    /// <summary>Bit 0 of the label is in the image and the audio's pitch, bit 1 in the tabular features and the tokens.</summary>
    public static List<OnnxRow> Make(int n, int seed, double missing = 0.15)
    {
        var r = new Random(seed);
        var rows = new List<OnnxRow>();
        for (int i = 0; i < n; i++)
        {
            uint y = (uint)r.Next(4);
            var img = new float[64];
            for (int k = 0; k < 64; k++) img[k] = (float)(r.NextDouble() * 0.5);
            for (int c = 0; c < 8; c++) img[((y & 1) == 0 ? 2 : 5) * 8 + c] += 1f;
            var audio = new float[Samples];
            double f = (y & 1) == 0 ? 440 : 1200, phase = r.NextDouble() * 6;
            for (int k = 0; k < Samples; k++) audio[k] = (float)(0.3 * Math.Sin(2 * Math.PI * f * k / Rate + phase) + 0.05 * (r.NextDouble() - 0.5));
            var tab = new float[4];
            for (int k = 0; k < 4; k++) tab[k] = (float)(r.NextDouble() - 0.5);
            tab[0] += (y & 2) == 0 ? -1f : 1f;
            var tokens = new float[6];
            int used = 2 + r.Next(4);
            for (int k = 0; k < used; k++) tokens[k] = 1 + r.Next(40);
            tokens[r.Next(used)] = (y & 2) == 0 ? 50 : 51;
            double u = r.NextDouble();
            if (u < missing) Array.Fill(img, float.NaN);
            else if (u < 2 * missing) Array.Fill(audio, float.NaN);
            var noise = new[] { (float)r.NextDouble(), (float)r.NextDouble(), (float)r.NextDouble() };
            rows.Add(new OnnxRow { Label = y, Image = img, Audio = audio, Tab = tab, Tokens = tokens, Noise = noise });
        }
        return rows;
    }

    public static IDataView Load(MLContext ml, IEnumerable<OnnxRow> rows)
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        return ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(data).Transform(data);
    }
}

/// <summary>
/// The exported graph, run by ONNX Runtime, gives MLNetFusion's probabilities (to 1e-4) and labels for every family,
/// with the log-mel, the standardisation and the missing-modality rule inside the graph.
/// </summary>
public class OnnxExportTests
{
    private readonly Xunit.Abstractions.ITestOutputHelper _out;

    public OnnxExportTests(Xunit.Abstractions.ITestOutputHelper output) => _out = output;

    private static MelSpectrogramOptions Mel(SpectrogramNormalization normalization = SpectrogramNormalization.None) => new()
    {
        InputColumnName = "Audio", OutputColumnName = "LogMel", SampleRate = OnnxRow.Rate, FftSize = 128, HopLength = 64, Bands = 16, Normalization = normalization,
    };

    private static List<ModalityOptions> Modalities(bool batchNorm = true, bool perClip = false) => new()
    {
        new ModalityOptions { Name = "image", ColumnName = "Image", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4, 8 }, OutputWidth = 16, BatchNorm = batchNorm } },
        new ModalityOptions { Name = "audio", ColumnName = "LogMel", Kind = ModalityKind.Audio, EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4, 8 }, OutputWidth = 16, BatchNorm = batchNorm, PerClipNormalization = perClip } },
        ModalityOptions.Tabular("Tab", "tab", 16),
        new ModalityOptions { Name = "text", ColumnName = "Tokens", Kind = ModalityKind.Text, EncoderOptions = new EmbeddingBagEncoderOptions { Buckets = 64, EmbeddingWidth = 8, HiddenWidths = new[] { 8 } } },
    };

    public static IEnumerable<object[]> Families() => new[]
    {
        "mlp", "merge-sum", "merge-mean", "merge-product", "merge-max", "merge-gated", "merge-attention", "merge-lowrank",
        "network", "network-stages", "crossmodal-1", "crossmodal-2", "merge-no-heads", "merge-disabled",
    }.Select(f => new object[] { f });

    internal static IEstimator<ITransformer> Pipeline(MLContext ml, string family)
    {
        var t = ml.MulticlassClassification.Trainers;
        var mel = ml.Transforms.MelSpectrogram(Mel(family == "network" ? SpectrogramNormalization.PerClipMeanVariance : SpectrogramNormalization.None));
        const int epochs = 12;
        if (family == "mlp")
            return mel.Append(ml.Transforms.Concatenate("Features", "Tab", "Tokens"))
                .Append(ml.Transforms.NormalizeMeanVariance("Features"))
                .Append(t.FusionMlp(new FusionMlpOptions { FeatureColumnName = "Features", Epochs = epochs, Seed = 1 }));
        var mods = Modalities(batchNorm: family != "network-stages", perClip: family == "merge-max");
        IEstimator<ITransformer> trainer = family switch
        {
            "network" or "network-stages" => t.NetworkFusion(new NetworkFusionOptions { Modalities = mods, Epochs = epochs, Seed = 1, UseIntermediateLayers = family == "network-stages", ModalitiesUsedColumnName = "Used" }),
            "crossmodal-1" or "crossmodal-2" => t.CrossModalFusion(new CrossModalFusionOptions { Modalities = mods, Epochs = epochs, Seed = 1, Width = 16, Heads = 2, Depth = family[^1] - '0' }),
            _ => t.MergeFusion(new MergeFusionOptions
            {
                Modalities = mods, Epochs = epochs, Seed = 1, EmbeddingColumnName = "Embedding",
                AuxiliaryLossWeight = family == "merge-no-heads" ? 0 : 0.5,
                ModalityHeadWeight = family == "merge-no-heads" ? 0 : 1,
                Operation = family switch
                {
                    "merge-sum" => MergeOperation.Sum, "merge-product" => MergeOperation.Product, "merge-max" => MergeOperation.Max,
                    "merge-gated" => MergeOperation.Gated, "merge-attention" => MergeOperation.Attention, "merge-lowrank" => MergeOperation.LowRankTensor,
                    _ => MergeOperation.Mean,
                },
            }),
        };
        return mel.Append(trainer);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void OnnxRuntimeGivesTheSameProbabilitiesAndLabels(string family)
    {
        using var reference = FusionServing.Use(FusionServingEngine.TorchSharp);   // the reference each graph is compared with: TorchSharp
        var ml = new MLContext(seed: 1);
        var train = OnnxRow.Load(ml, OnnxRow.Make(400, 1));
        var test = OnnxRow.Load(ml, OnnxRow.Make(150, 2));
        var model = Pipeline(ml, family).Fit(train);
        try
        {
            if (family == "merge-disabled")
                Last<FusionPredictionTransformer>(model).Network.DisabledModalities = new[] { false, false, true, false };
            var path = Path.Combine(TestData.TempFolder("onnx"), family + ".onnx");
            var export = ml.Model.ExportFusionToOnnx(model, test.Schema, path);
            Assert.Empty(export.OutsideGraphSteps);
            Assert.Equal(new[] { "Image", "Audio", "Tab", "Tokens" }.Where(c => family != "mlp" || c is "Tab" or "Tokens" or "Audio").OrderBy(c => c),
                export.Inputs.Select(i => i.Name).OrderBy(c => c));
            // Every node computes something an output needs (ONNX Runtime would run a dead one all the same).
            var graph = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
            var read = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet();
            Assert.All(graph.Node, n => Assert.True(n.Output.Any(read.Contains), $"{family}: node {n.Name} ({n.OpType}) feeds nothing"));
            if (family is "merge-attention" or "merge-mean") Assert.DoesNotContain(graph.Node, n => n.OpType == "ReduceMean");   // the encoders' unused stage means

            var expected = model.Transform(test);
            var scores = Columns.Vectors(expected, "Score");
            var labels = Columns.Keys(expected, "PredictedLabel");
            var (onnxScores, onnxLabels) = RunOnnx(path, test, export);
            double worst = 0;
            for (int i = 0; i < scores.Count; i++)
                for (int k = 0; k < scores[i].Length; k++) worst = Math.Max(worst, Math.Abs(scores[i][k] - onnxScores[i][k]));
            _out.WriteLine($"{family}: largest probability difference {worst:G3} over {scores.Count} rows, file {new FileInfo(path).Length / 1024} KiB");
            Assert.True(worst <= 1e-4, $"{family}: largest probability difference {worst:G3}");
            Assert.Equal(labels, onnxLabels);

            // The default path: Transform itself serves the network through ONNX Runtime (its graph built in memory), with
            // the same probabilities, labels, embedding and modalities used as TorchSharp's.
            var torchEmbedding = expected.Schema.GetColumnOrNull("Embedding") != null ? Columns.Vectors(expected, "Embedding") : null;
            var torchUsed = expected.Schema.GetColumnOrNull("Used") != null ? Columns.Flags(expected, "Used") : null;
            using (FusionServing.Use(FusionServingEngine.Auto))
            {
                Assert.Equal(FusionServingEngine.OnnxRuntime, Last<FusionPredictionTransformer>(model).EngineInUse);
                var byDefault = model.Transform(test);
                var defaultScores = Columns.Vectors(byDefault, "Score");
                double worstDefault = scores.Zip(defaultScores).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
                _out.WriteLine($"{family}: default path (ONNX Runtime) largest probability difference {worstDefault:G3}");
                Assert.True(worstDefault <= 1e-4, $"{family}: default path's largest probability difference {worstDefault:G3}");
                Assert.Equal(labels, Columns.Keys(byDefault, "PredictedLabel"));
                if (torchEmbedding != null)
                    Assert.True(torchEmbedding.Zip(Columns.Vectors(byDefault, "Embedding")).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second))) <= 1e-4);
                if (torchUsed != null)
                    Assert.Equal(torchUsed, Columns.Flags(byDefault, "Used"));
            }
            // The model learnt something (so the comparison is not between two constant outputs).
            // FusionMlp sees the tabular features and the tokens only, which tell bit 1 of the label: at most about 50%.
            Assert.True(labels.Zip(Columns.Keys(test, "Label")).Count(p => p.First == p.Second) > (family == "mlp" ? 0.4 : 0.5) * labels.Count, $"{family}: accuracy {labels.Zip(Columns.Keys(test, "Label")).Count(p => p.First == p.Second)} of {labels.Count}");
        }
        finally { (model as IDisposable)?.Dispose(); }
    }

    public static IEnumerable<object[]> Combiners() => Enum.GetValues<MLNetFusion.Trainers.LateFusion.LateFusionCombiner>().Select(c => new object[] { c });

    [Theory]
    [MemberData(nameof(Combiners))]
    public void LateFusionOfNetworksAndLinearModelsMatchesForEveryCombiner(MLNetFusion.Trainers.LateFusion.LateFusionCombiner combiner)
    {
        using var reference = FusionServing.Use(FusionServingEngine.TorchSharp);   // the reference each graph is compared with: TorchSharp
        var ml = new MLContext(seed: 1);
        var train = OnnxRow.Load(ml, OnnxRow.Make(400, 1));
        var test = OnnxRow.Load(ml, OnnxRow.Make(150, 2));
        var t = ml.MulticlassClassification.Trainers;
        NetworkFusionOptions Cnn(string name, string column) => new()
        {
            Modalities = new() { new ModalityOptions { Name = name, ColumnName = column, EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4, 8 }, OutputWidth = 16 } } }, Epochs = 6, Seed = 1,
        };
        var late = new MLNetFusion.Trainers.LateFusion.LateFusionOptions
        {
            Combiner = combiner, Seed = 1, NumberOfFolds = 3,
            MemberCalibration = combiner == MLNetFusion.Trainers.LateFusion.LateFusionCombiner.ProductOfExperts ? MLNetFusion.Trainers.LateFusion.MemberCalibration.Temperature : MLNetFusion.Trainers.LateFusion.MemberCalibration.None,
            Members = new()
            {
                new("image", "Image", t.NetworkFusion(Cnn("image", "Image"))),
                new("audio", "LogMel", t.NetworkFusion(Cnn("audio", "LogMel"))),
                new("tab", "Tab", t.LbfgsMaximumEntropy("Label", "Tab")),
                new("tokens", "Tokens", ml.Transforms.NormalizeMinMax("Tokens").Append(t.SdcaNonCalibrated("Label", "Tokens", maximumNumberOfIterations: 20))),
                new("noise", "Noise", t.LbfgsMaximumEntropy("Label", "Noise")),
            },
        };
        if (combiner == MLNetFusion.Trainers.LateFusion.LateFusionCombiner.Stacking) late.MetaLearner = t.LbfgsMaximumEntropy(new Microsoft.ML.Trainers.LbfgsMaximumEntropyMulticlassTrainer.Options { FeatureColumnName = late.MetaFeatureColumnName, L2Regularization = 1 });
        var model = ml.Transforms.MelSpectrogram(Mel()).Append(t.LateFusion(late)).Fit(train);
        try
        {
            var path = Path.Combine(TestData.TempFolder("onnx-late"), combiner + ".onnx");
            var export = ml.Model.ExportFusionToOnnx(model, test.Schema, path);
            Assert.Empty(export.OutsideGraphSteps);
            var expected = model.Transform(test);
            var scores = Columns.Vectors(expected, "Score");
            var (onnxScores, onnxLabels) = RunOnnx(path, test, export);
            double worst = scores.Zip(onnxScores).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
            _out.WriteLine($"late {combiner}: largest probability difference {worst:G3} over {scores.Count} rows, file {new FileInfo(path).Length / 1024} KiB");
            Assert.True(worst <= 1e-4, $"{combiner}: largest probability difference {worst:G3}");
            Assert.Equal(Columns.Keys(expected, "PredictedLabel"), onnxLabels);
            int correct = onnxLabels.Zip(Columns.Keys(test, "Label")).Count(p => p.First == p.Second);
            Assert.True(correct > 0.5 * onnxLabels.Count, $"{combiner}: accuracy {correct} of {onnxLabels.Count} (chance is a quarter)");
        }
        finally { (model as IDisposable)?.Dispose(); }
    }

    [Fact]
    public void TrainableFeaturizersFeedingALinearModelMatch()
    {
        using var reference = FusionServing.Use(FusionServingEngine.TorchSharp);   // the reference each graph is compared with: TorchSharp
        var ml = new MLContext(seed: 1);
        var train = OnnxRow.Load(ml, OnnxRow.Make(300, 1, missing: 0));
        var test = OnnxRow.Load(ml, OnnxRow.Make(120, 2, missing: 0));
        var model = ml.Transforms.MelSpectrogram(Mel())
            .Append(ml.Transforms.FeaturizeImage("ImageFeatures", "Image", width: 16, epochs: 4))
            .Append(ml.Transforms.FeaturizeAudio("AudioFeatures", "LogMel", width: 16, epochs: 4))
            .Append(ml.Transforms.Concatenate("Features", "ImageFeatures", "AudioFeatures", "Tab"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"))
            .Fit(train);
        try
        {
            var path = Path.Combine(TestData.TempFolder("onnx-featurizers"), "featurizers.onnx");
            var export = ml.Model.ExportFusionToOnnx(model, test.Schema, path);
            Assert.Empty(export.OutsideGraphSteps);
            Assert.Contains(export.Outputs, o => o.Name == "ImageFeatures" && o.Size == 16);
            var expected = model.Transform(test);
            var (onnxScores, onnxLabels) = RunOnnx(path, test, export);
            double worst = Columns.Vectors(expected, "Score").Zip(onnxScores).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
            Assert.True(worst <= 1e-4, $"largest probability difference {worst:G3}");
            Assert.Equal(Columns.Keys(expected, "PredictedLabel"), onnxLabels);
        }
        finally { (model as IDisposable)?.Dispose(); }
    }

    [Fact]
    public void TheLeaderboardsWeightedEnsembleOfANetworkAndALinearChainMatches()
    {
        using var reference = FusionServing.Use(FusionServingEngine.TorchSharp);   // the reference each graph is compared with: TorchSharp
        var ml = new MLContext(seed: 1);
        var train = OnnxRow.Load(ml, OnnxRow.Make(300, 1));
        var test = OnnxRow.Load(ml, OnnxRow.Make(120, 2));
        var mel = ml.Transforms.MelSpectrogram(Mel()).Fit(train);
        var featurized = mel.Transform(train);
        using var network = ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions { Modalities = Modalities(), Epochs = 6, Seed = 1 }).Fit(featurized);
        var linear = ml.Transforms.Concatenate("Features", "Tab", "Tokens").Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features")).Fit(featurized);
        var ensemble = new MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer(new ITransformer[] { network, linear }, new[] { "merge", "linear" }, new[] { 0.7, 0.3 },
            LabelKeyValues.FromColumn(featurized.Schema["Label"]));
        var model = new TransformerChain<ITransformer>(mel, ensemble);
        var path = Path.Combine(TestData.TempFolder("onnx-ensemble"), "ensemble.onnx");
        var export = ml.Model.ExportFusionToOnnx(model, test.Schema, path);
        Assert.Equal(new[] { "Score", "PredictedLabel" }, export.Outputs.Select(o => o.Name));
        var expected = model.Transform(test);
        var (onnxScores, onnxLabels) = RunOnnx(path, test, export);
        double worst = Columns.Vectors(expected, "Score").Zip(onnxScores).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
        Assert.True(worst <= 1e-4, $"largest probability difference {worst:G3}");
        Assert.Equal(Columns.Keys(expected, "PredictedLabel"), onnxLabels);
    }

    internal static T Last<T>(ITransformer model) => ((IEnumerable<ITransformer>)model).OfType<T>().Last();

    /// <summary>Runs the exported file with ONNX Runtime on every row of <paramref name="data"/>, in one batch.</summary>
    internal static (List<float[]> scores, List<uint> labels) RunOnnx(string path, IDataView data, FusionOnnxExport export)
    {
        using var session = new InferenceSession(path);
        int n = -1;
        var inputs = new List<NamedOnnxValue>();
        foreach (var input in export.Inputs)
        {
            var rows = data.Schema[input.Column].Type is VectorDataViewType ? Columns.Vectors(data, input.Column)
                : data.GetColumn<float>(input.Column).Select(v => new[] { v }).ToList();
            n = rows.Count;
            var flat = rows.SelectMany(r => r).ToArray();
            inputs.Add(NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<float>(flat, new[] { n, (int)input.Size })));
        }
        using var results = session.Run(inputs);
        // The graph's outputs of the chain's Score and PredictedLabel (renamed when an input took the name, e.g. "Score.output").
        string Output(string column) => export.Outputs.Last(o => o.Column == column).Name;
        var score = results.Single(r => r.Name == Output("Score")).AsTensor<float>();
        var label = results.Single(r => r.Name == Output("PredictedLabel")).AsTensor<uint>();
        int k = score.Dimensions[1];
        var scores = Enumerable.Range(0, n).Select(i => Enumerable.Range(0, k).Select(j => score[i, j]).ToArray()).ToList();
        return (scores, Enumerable.Range(0, n).Select(i => label[i, 0]).ToList());
    }
}

/// <summary>Served by ML.NET's own <c>ApplyOnnxModel</c>, and the errors of chains that cannot be exported.</summary>
public class OnnxServingAndErrorTests
{
    [Fact]
    public void ApplyOnnxModelServesTheExportedGraphInAnMLNetPipeline()
    {
        using var reference = FusionServing.Use(FusionServingEngine.TorchSharp);   // the reference each graph is compared with: TorchSharp
        var ml = new MLContext(seed: 1);
        var train = OnnxRow.Load(ml, OnnxRow.Make(300, 3));
        var test = OnnxRow.Load(ml, OnnxRow.Make(100, 4));
        var mods = new List<ModalityOptions>
        {
            new() { Name = "image", ColumnName = "Image", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4, 8 }, OutputWidth = 16 } },
            ModalityOptions.Tabular("Tab", "tab", 16),
        };
        using var model = ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions { Modalities = mods, Epochs = 10, Seed = 1 }).Fit(train);
        var path = Path.Combine(TestData.TempFolder("onnx-apply"), "merge.onnx");
        var export = ml.Model.ExportFusionToOnnx(model, test.Schema, path);
        var served = ml.Transforms.ApplyOnnxModel(outputColumnNames: new[] { "Score" }, inputColumnNames: export.Inputs.Select(i => i.Name).ToArray(), modelFile: path).Fit(test).Transform(test);
        var expected = Columns.Vectors(model.Transform(test), "Score");
        var actual = Columns.Vectors(served, "Score");
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(ArgMax(expected[i]), ArgMax(actual[i]));
            for (int k = 0; k < expected[i].Length; k++) Assert.True(Math.Abs(expected[i][k] - actual[i][k]) <= 1e-4, $"row {i}, class {k}: {expected[i][k]} vs {actual[i][k]}");
        }
    }

    private static int ArgMax(float[] v) => Array.IndexOf(v, v.Max());

    [Fact]
    public void RowsTransformRefusesGiveNaNScoresAndTreatAsMissingMatchesTransform()
    {
        using var reference = FusionServing.Use(FusionServingEngine.TorchSharp);   // the reference each graph is compared with: TorchSharp
        var ml = new MLContext(seed: 1);
        var train = OnnxRow.Load(ml, OnnxRow.Make(300, 3));
        var rows = OnnxRow.Make(60, 4);
        rows[3].Tab[1] = float.NaN;                  // a partly missing vector: Transform refuses it
        rows[7].Image[5] = float.PositiveInfinity;  // an infinite value: the same
        var test = OnnxRow.Load(ml, rows);
        var mods = new List<ModalityOptions>
        {
            new() { Name = "image", ColumnName = "Image", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4, 8 }, OutputWidth = 16 } },
            ModalityOptions.Tabular("Tab", "tab", 16),
        };
        using var model = ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions { Modalities = mods, Epochs = 4, Seed = 1 }).Fit(train);
        var dir = TestData.TempFolder("onnx-nonfinite");
        var strict = Path.Combine(dir, "error.onnx");
        var export = ml.Model.ExportFusionToOnnx(model, test.Schema, strict);
        var (scores, _) = OnnxExportTests.RunOnnx(strict, test, export);
        Assert.All(scores[3].Concat(scores[7]), v => Assert.True(float.IsNaN(v)));
        Assert.All(scores.Where((_, i) => i != 3 && i != 7).SelectMany(s => s), v => Assert.False(float.IsNaN(v)));

        model.NonFiniteInputs = NonFiniteInputHandling.TreatAsMissing;
        var lenient = Path.Combine(dir, "treat-as-missing.onnx");
        export = ml.Model.ExportFusionToOnnx(model, test.Schema, lenient);
        var expected = Columns.Vectors(model.Transform(test), "Score");
        (scores, _) = OnnxExportTests.RunOnnx(lenient, test, export);
        double worst = expected.Zip(scores).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
        Assert.True(worst <= 1e-4, $"largest probability difference {worst:G3}");
    }

    public sealed class Scored
    {
        public uint PredictedLabel { get; set; }
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void WithOnnxRuntimeIsADropInWithTheModelsOwnSchemaForTransformAndPredictionEngine()
    {
        using var reference = FusionServing.Use(FusionServingEngine.TorchSharp);   // the reference each graph is compared with: TorchSharp
        var ml = new MLContext(seed: 1);
        var train = OnnxRow.Load(ml, OnnxRow.Make(300, 3));
        var rows = OnnxRow.Make(80, 4);
        var test = OnnxRow.Load(ml, rows);
        var mods = new List<ModalityOptions>
        {
            new() { Name = "audio", ColumnName = "LogMel", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4, 8 }, OutputWidth = 16 } },
            ModalityOptions.Tabular("Tab", "tab", 16),
        };
        using var model = ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { InputColumnName = "Audio", OutputColumnName = "LogMel", SampleRate = OnnxRow.Rate, FftSize = 128, HopLength = 64, Bands = 16 })
            .Append(ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions { Modalities = mods, Epochs = 4, Seed = 1 })).Fit(train);
        using var onnx = ml.Model.WithOnnxRuntime(model, test.Schema, new OnnxRuntimeServingOptions { BatchSize = 32 });

        var expected = model.Transform(test);
        var actual = onnx.Transform(test);
        foreach (var name in new[] { "Score", "PredictedLabel" })
        {
            var (e, a) = (expected.Schema[name], actual.Schema[name]);
            Assert.Equal(e.Type, a.Type);
            Assert.Equal(e.Annotations.Schema.Select(c => c.Name), a.Annotations.Schema.Select(c => c.Name));
        }
        VBuffer<ReadOnlyMemory<char>> slotsE = default, slotsA = default;
        expected.Schema["Score"].GetSlotNames(ref slotsE);
        actual.Schema["Score"].GetSlotNames(ref slotsA);
        Assert.Equal(slotsE.DenseValues().Select(v => v.ToString()), slotsA.DenseValues().Select(v => v.ToString()));
        var (se, sa) = (Columns.Vectors(expected, "Score"), Columns.Vectors(actual, "Score"));
        Assert.True(se.Zip(sa).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second))) <= 1e-4);
        Assert.Equal(Columns.Keys(expected, "PredictedLabel"), Columns.Keys(actual, "PredictedLabel"));

        // One row at a time, through the same typed PredictionEngine as the TorchSharp model.
        var torchEngine = ml.Model.CreatePredictionEngine<OnnxRow, Scored>(model);
        var onnxEngine = ml.Model.CreatePredictionEngine<OnnxRow, Scored>(onnx);
        foreach (var row in rows.Where(r => !float.IsNaN(r.Audio[0])).Take(20))
        {
            row.Label = 0;
            var (t, o) = (torchEngine.Predict(row), onnxEngine.Predict(row));
            Assert.Equal(t.PredictedLabel, o.PredictedLabel);
            Assert.True(t.Score.Zip(o.Score).Max(v => Math.Abs(v.First - v.Second)) <= 1e-4);
        }

        // A row the TorchSharp model refuses is an error here too, never a NaN prediction.
        var bad = OnnxRow.Make(3, 9, missing: 0);
        bad[1].Tab[2] = float.NaN;
        var ex = Assert.Throws<InvalidOperationException>(() => Columns.Vectors(onnx.Transform(OnnxRow.Load(ml, bad)), "Score"));
        Assert.StartsWith("Row 1: the graph's 'Score' is NaN: a modality of this row has some NaN or infinite values, or no modality is present.", ex.Message);
    }

    [Fact]
    public void ModelsServeThroughOnnxRuntimeByDefaultWithAnOptOutPerModelAndPerScope()
    {
        var ml = new MLContext(seed: 1);
        var train = OnnxRow.Load(ml, OnnxRow.Make(300, 3));
        var rows = OnnxRow.Make(60, 4);
        var test = OnnxRow.Load(ml, rows);
        using var model = (TransformerChain<ITransformer>)OnnxExportTests.Pipeline(ml, "merge-attention").Fit(train);
        var network = OnnxExportTests.Last<FusionPredictionTransformer>(model);
        Assert.Null(network.Engine);
        Assert.Equal(FusionServingEngine.OnnxRuntime, network.EngineInUse);
        Assert.Matches(@"^ONNX Runtime \(\d+ threads?\)$", network.EngineNote);

        // One row at a time through a PredictionEngine: the same probabilities as TorchSharp's.
        PredictionEngine<OnnxRow, Scored> torchEngine;
        using (FusionServing.Use(FusionServingEngine.TorchSharp)) torchEngine = ml.Model.CreatePredictionEngine<OnnxRow, Scored>(model);
        var defaultEngine = ml.Model.CreatePredictionEngine<OnnxRow, Scored>(model);
        int compared = 0;
        foreach (var row in rows.Take(20))
        {
            row.Label = 0;
            var (t, d) = (torchEngine.Predict(row), defaultEngine.Predict(row));
            Assert.Equal(t.PredictedLabel, d.PredictedLabel);
            Assert.True(t.Score.Zip(d.Score).Max(v => Math.Abs(v.First - v.Second)) <= 1e-4);
            compared++;
        }
        Assert.Equal(20, compared);

        // Opt out per model, and per scope; a setting baked into the graph rebuilds it.
        network.Engine = FusionServingEngine.TorchSharp;
        Assert.Equal((FusionServingEngine.TorchSharp, "TorchSharp (asked for)"), (network.EngineInUse, network.EngineNote));
        network.Engine = null;
        using (FusionServing.Use(FusionServingEngine.TorchSharp)) Assert.Equal(FusionServingEngine.TorchSharp, network.EngineInUse);
        Assert.Equal(FusionServingEngine.OnnxRuntime, network.EngineInUse);
        var bad = OnnxRow.Make(6, 9, missing: 0);
        bad[1].Tab[2] = float.NaN;
        var badView = OnnxRow.Load(ml, bad);
        // A present modality with a NaN is refused by both engines, naming the row and the column.
        var refused = Assert.Throws<InvalidOperationException>(() => Columns.Vectors(model.Transform(badView), "Score"));
        Assert.Contains("Row 1", refused.Message);
        network.NonFiniteInputs = NonFiniteInputHandling.TreatAsMissing;
        List<float[]> torchLenient;
        using (FusionServing.Use(FusionServingEngine.TorchSharp)) torchLenient = Columns.Vectors(model.Transform(badView), "Score");
        var lenient = Columns.Vectors(model.Transform(badView), "Score");
        Assert.Equal(FusionServingEngine.OnnxRuntime, network.EngineInUse);
        Assert.True(torchLenient.Zip(lenient).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second))) <= 1e-4);
        // The PredictionEngine made before the graph was rebuilt moves to the new session (its bound buffers with it).
        foreach (var row in rows.Skip(20).Take(5))
        {
            var (t, d) = (torchEngine.Predict(row), defaultEngine.Predict(row));
            Assert.True(t.Score.Zip(d.Score).Max(v => Math.Abs(v.First - v.Second)) <= 1e-4);
        }

        // Requiring ONNX Runtime where the network is elsewhere is an exact error; the process default follows the variable.
        Assert.Throws<ArgumentOutOfRangeException>(() => FusionServing.Threads = 0);
        Assert.Equal("MLNETFUSION_ENGINE", FusionServing.EngineVariable);
    }

    [Fact]
    public void TheOnnxRuntimeRunnerRebindsItsValuesWhenTheRowCountTheArraysOrTheOutputsChange()
    {
        var ml = new MLContext(seed: 1);
        using var model = (TransformerChain<ITransformer>)OnnxExportTests.Pipeline(ml, "merge-attention").Fit(OnnxRow.Load(ml, OnnxRow.Make(300, 3)));
        var network = OnnxExportTests.Last<FusionPredictionTransformer>(model);
        // The network's own input columns, as the chain before it writes them.
        var before = new TransformerChain<ITransformer>(((IEnumerable<ITransformer>)model).SkipLast(1).ToArray());
        var featurized = before.Transform(OnnxRow.Load(ml, OnnxRow.Make(20, 6, missing: 0)));
        var columns = network.Layout.Columns.Select(c => Columns.Vectors(featurized, c)).ToArray();
        float[][] Block(int start, int capacity)
            => columns.Select((rows, m) => rows.Skip(start).Take(capacity).SelectMany(r => r).Concat(new float[capacity * network.Layout.Sizes[m]]).Take(capacity * network.Layout.Sizes[m]).ToArray()).ToArray();
        var (expected, expectedEmbedding) = network.Predict(Block(0, 20), columns.Select(_ => Enumerable.Repeat(1f, 20).ToArray()).ToArray(), 20, wantEmbedding: true);

        var session = NetworkSessions.TryCreate(network, 1, out var whyNot);
        Assert.True(session != null, whyNot);
        using (session)
        using (var runner = session.CreateRunner())
        {
            float[] probabilities = Array.Empty<float>(), embedding = Array.Empty<float>();
            int classes = network.Labels.Count, width = network.Network.EmbeddingWidth;
            void Check(float[][] inputs, int start, int count, bool wantEmbedding)
            {
                runner.Run(inputs, count, wantEmbedding, ref probabilities, ref embedding);
                for (int i = 0; i < count * classes; i++) Assert.True(Math.Abs(probabilities[i] - expected[start * classes + i]) <= 1e-4, $"rows {start}+{count}: probability {i}");
                if (wantEmbedding)
                    for (int i = 0; i < count * width; i++) Assert.True(Math.Abs(embedding[i] - expectedEmbedding[start * width + i]) <= 1e-4, $"rows {start}+{count}: embedding {i}");
            }
            var first = Block(0, 8);
            Check(first, 0, 8, wantEmbedding: false);
            Check(first, 0, 8, wantEmbedding: true);    // the outputs grow by the embedding
            Array.Fill(probabilities, float.NaN);
            Check(first, 0, 3, wantEmbedding: true);    // a shorter last block over the same arrays: three rows written, no more
            Assert.All(probabilities.Skip(3 * classes), p => Assert.True(float.IsNaN(p)));
            var second = Block(8, 8);
            Check(second, 8, 8, wantEmbedding: false);  // other arrays
            for (int m = 0; m < first.Length; m++) Array.Copy(second[m], first[m], first[m].Length);
            Check(first, 8, 8, wantEmbedding: false);   // the first arrays again, written in place as a mapper does
            var grown = probabilities = new float[probabilities.Length * 2];
            Check(Block(12, 8), 12, 8, wantEmbedding: true);
            Assert.Same(grown, probabilities);          // a large enough buffer is written into, not replaced
        }
    }

    [Fact]
    public void TheOnnxSampleServesTheGeneratedDatasetThroughApplyOnnxModel()
    {
        var (rows, same, worst) = MLNetFusion.Samples.OnnxExportSample.Example(epochs: 2);
        Assert.Equal(400, rows);
        Assert.Equal(rows, same);
        Assert.True(worst <= 1e-4, $"largest probability difference {worst:G3}");
    }

    [Fact]
    public void DecodingStaysOutsideTheGraphUnlessTheWholeChainIsRequired()
    {
        var ml = new MLContext(seed: 1);
        var folder = TestData.TempFolder("onnx-wav");
        var rows = new List<WavRow>();
        var rand = new Random(5);
        for (int i = 0; i < 4; i++)
        {
            var samples = Enumerable.Range(0, 4000).Select(k => (float)(0.2 * Math.Sin(k * 0.05 * (i + 1)) + 0.01 * rand.NextDouble())).ToArray();
            var path = Path.Combine(folder, $"{i}.wav");
            MLNetFusion.Transforms.Audio.WavWriter.Write(path, samples, 8000);
            rows.Add(new WavRow { Path = path });
        }
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.LoadAudio("Audio", null, "Path", 8000, 0.5)
            .Append(ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { InputColumnName = "Audio", OutputColumnName = "LogMel", FftSize = 256, HopLength = 128, Bands = 40 }))
            .Fit(data);
        var strict = Assert.Throws<NotSupportedException>(() => ml.Model.ExportFusionToOnnx(model, data.Schema, new MemoryStream(),
            new FusionOnnxExportOptions { RequireWholeChain = true, OutputColumns = new[] { "LogMel" } }));
        Assert.Equal("LoadAudio cannot be exported to ONNX (RequireWholeChain is set)." + Environment.NewLine +
            "Hint: LoadAudio decodes WAV files, which an ONNX graph cannot: keep it outside the graph and feed the graph the samples. " +
            "Leave FusionOnnxExportOptions.RequireWholeChain false to keep such steps outside the graph, or export the chain after it.", strict.Message);

        var export = ml.Model.ExportFusionToOnnx(model, data.Schema, new MemoryStream(), new FusionOnnxExportOptions { OutputColumns = new[] { "LogMel" } });
        Assert.Equal(new[] { "LoadAudio" }, export.OutsideGraphSteps.Select(s => s.GetType().Name.Replace("Transformer", "").Replace("AudioLoading", "LoadAudio")));
        Assert.Equal(new[] { "MelSpectrogram" }, export.InGraph);
        Assert.Equal(new OnnxColumn("Audio", "Audio", OnnxElementType.Float, 4000), export.Inputs.Single());

        var missing = Assert.Throws<ArgumentException>(() => ml.Model.ExportFusionToOnnx(model, data.Schema, new MemoryStream(), new FusionOnnxExportOptions { OutputColumns = new[] { "Nope" } }));
        Assert.StartsWith("Output column 'Nope' is not computed by the graph (the graph writes 'LogMel').", missing.Message);
    }

    [Fact]
    public void AStepThatCannotBeInTheGraphTakesWhatItReadsOutsideAndAModelThatCannotIsAnError()
    {
        using var reference = FusionServing.Use(FusionServingEngine.TorchSharp);   // the reference each graph is compared with: TorchSharp
        var ml = new MLContext(seed: 1);
        var data = OnnxRow.Load(ml, OnnxRow.Make(200, 6, missing: 0));
        var mel = ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { InputColumnName = "Audio", OutputColumnName = "LogMel", SampleRate = OnnxRow.Rate, FftSize = 128, HopLength = 64, Bands = 16 });
        // A CDF normalizer is not affine: it and the log-mel it reads run outside; the network and its standardisation stay in.
        var mods = new List<ModalityOptions> { new() { Name = "audio", ColumnName = "LogMel", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4 }, OutputWidth = 8 } }, ModalityOptions.Tabular("Tab", "tab", 8) };
        using var model = mel.Append(ml.Transforms.NormalizeLogMeanVariance("LogMel", useCdf: true))
            .Append(ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions { Modalities = mods, Epochs = 2, Seed = 1 })).Fit(data);
        var path = Path.Combine(TestData.TempFolder("onnx-cdf"), "m.onnx");
        var export = ml.Model.ExportFusionToOnnx(model, data.Schema, path);
        Assert.Equal(new[] { "MelSpectrogram", "Normalizing" }, export.OutsideGraphNames);
        Assert.Equal(new[] { "FusionPrediction" }, export.InGraph);
        Assert.Equal(new[] { "LogMel", "Tab" }, export.Inputs.Select(i => i.Name));
        var expected = Columns.Vectors(model.Transform(data), "Score");
        var (actual, _) = OnnxExportTests.RunOnnx(path, export.OutsideGraph.Transform(data), export);
        Assert.True(expected.Zip(actual).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second))) <= 1e-4);

        // A model with no ONNX description (here naive Bayes) is an error that names it.
        var bayes = mel.Append(ml.Transforms.Concatenate("Features", "Tab", "LogMel"))
            .Append(ml.MulticlassClassification.Trainers.NaiveBayes("Label", "Features")).Fit(data);
        var ex = Assert.Throws<NotSupportedException>(() => ml.Model.ExportFusionToOnnx(bayes, data.Schema, new MemoryStream()));
        Assert.Equal("The chain's model cannot be exported to ONNX: NaiveBayesMulticlass model cannot be in a graph." + Environment.NewLine +
            "Hint: MLNetFusion exports its own models and featurizers, Concatenate, affine normalizers (mean-variance, min-max), CopyColumns and MapKeyToValue. " +
            "The model itself must be an MLNetFusion network (merge, network, cross-modal, FusionMlp, a trainable featurizer), late fusion of such networks and ML.NET linear models, or an ML.NET linear model.", ex.Message);
    }

    private sealed class WavRow { public string Path { get; set; } = ""; }
}

/// <summary>avdigits: the CLI's featurizer chain (WAV and image decoding outside the graph, the log-mel inside) with a trained network.</summary>
public class OnnxAvDigitsTests
{
    private readonly Xunit.Abstractions.ITestOutputHelper _out;

    public OnnxAvDigitsTests(Xunit.Abstractions.ITestOutputHelper output) => _out = output;

    [AvDigitsFact]
    public void TheLogMelSubgraphMatchesMelSpectrogramOn100Clips()
    {
        var ml = new MLContext(seed: 1);
        var raw = ml.Data.TakeRows(ml.Data.LoadFromTextFile(Path.Combine(TestData.AvDigits, "train.csv"), new[]
        {
            new TextLoader.Column("AudioPath", DataKind.String, 3),
        }, separatorChar: ',', hasHeader: true), 100);
        var model = ml.Transforms.LoadAudio("Audio", TestData.AvDigits, "AudioPath", 8000, 1.0)
            .Append(ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { InputColumnName = "Audio", OutputColumnName = "LogMel", FftSize = 256, HopLength = 128, Bands = 40 }))
            .Fit(raw);
        var path = Path.Combine(TestData.TempFolder("onnx-mel"), "logmel.onnx");
        var export = ml.Model.ExportFusionToOnnx(model, raw.Schema, path, new FusionOnnxExportOptions { OutputColumns = new[] { "LogMel" } });
        var audio = export.OutsideGraph.Transform(raw);
        var samples = Columns.Vectors(audio, "Audio");
        var expected = Columns.Vectors(model.Transform(raw), "LogMel");
        using var session = new InferenceSession(path);
        using var result = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Audio", new DenseTensor<float>(samples.SelectMany(s => s).ToArray(), new[] { samples.Count, samples[0].Length })) });
        var mel = result.Single().AsTensor<float>();
        double worst = 0;
        int wi = 0, wj = 0, over = 0;
        for (int i = 0; i < expected.Count; i++)
            for (int j = 0; j < expected[i].Length; j++)
            {
                double d = Math.Abs(expected[i][j] - mel[i, j]);
                if (d > 1e-4) over++;
                if (d > worst) { worst = d; wi = i; wj = j; }
            }
        Assert.Equal(100, expected.Count);
        _out.WriteLine($"log-mel: largest difference {worst:G3} at {expected[wi][wj]}; {over} of {expected.Count * expected[0].Length} values above 1e-4");
        // Both compute in double precision (MelSpectrogram's CPU kernel for power-of-two FFT sizes, the graph's matrix products).
        Assert.True(worst <= 1e-4,
            $"largest log-mel difference {worst:G3} at clip {wi}, value {wj} ({expected[wi][wj]} vs {mel[wi, wj]}); {over} above 1e-4");
    }

    [AvDigitsFact]
    public void EveryFamilyOnTheCliFeaturizerMatchesOnTheAvDigitsTestSplit() => EveryFamilyMatches("avdigits");

    /// <summary>The generated dataset: images, audio, tabular columns and a text column that a tenth of the rows leave empty.</summary>
    [Fact]
    public void EveryFamilyOnTheCliFeaturizerMatchesOnTheGeneratedTestSplit() => EveryFamilyMatches("generated");

    private void EveryFamilyMatches(string dataset)
    {
        using var reference = FusionServing.Use(FusionServingEngine.TorchSharp);   // the reference each graph is compared with: TorchSharp
        var ml = new MLContext(seed: 1);
        var ds = dataset == "avdigits" ? MLNetFusion.Datasets.MultimodalDataset.AvDigits(TestData.AvDigits) : MLNetFusion.Datasets.MultimodalDataset.Synthetic(TestData.SyntheticFolder);
        var (allTrain, allTest) = ds.LoadSplits(ml);
        // Parity needs no accuracy: 480 training rows (every class, in both datasets' shuffled order) and 200 test rows.
        var rawTrain = ml.Data.TakeRows(allTrain, 480);
        var rawTest = ml.Data.TakeRows(allTest, 200);
        var train = ml.Data.Cache(ds.Featurizer(ml).Fit(rawTrain).Transform(rawTrain));
        var chain = ds.FeatureChain(ml).Fit(rawTrain);
        var t = ml.MulticlassClassification.Trainers;
        var features = ml.Transforms.Concatenate("Features", ds.Modalities().Where(m => m.Kind != ModalityKind.Text).Select(m => m.ColumnName).ToArray());
        foreach (var (name, trainer) in new (string, IEstimator<ITransformer>)[]
        {
            ("merge", t.MergeFusion(ds.Modalities(), MergeOperation.Attention, epochs: 3)),
            ("network", t.NetworkFusion(ds.Modalities(), epochs: 2)),
            ("cross-modal", t.CrossModalFusion(ds.Modalities(), epochs: 2)),
            ("fusion-mlp", features.Append(t.FusionMlp(new FusionMlpOptions { FeatureColumnName = "Features", Epochs = 3 }))),
            ("late-stacking", t.LateFusion(new MLNetFusion.Trainers.LateFusion.LateFusionOptions
            {
                Members = ds.LateFusionMembers(ml, epochs: 2), NumberOfFolds = 3, Seed = 1, Combiner = MLNetFusion.Trainers.LateFusion.LateFusionCombiner.Stacking,
                MetaLearner = t.LbfgsMaximumEntropy(new Microsoft.ML.Trainers.LbfgsMaximumEntropyMulticlassTrainer.Options { FeatureColumnName = "LateFusionFeatures", L2Regularization = 1 }),
            })),
        })
        {
            var fitted = trainer.Fit(train);
            var model = new TransformerChain<ITransformer>(((IEnumerable<ITransformer>)chain).Append(fitted).ToArray());
            var path = Path.Combine(TestData.TempFolder("onnx-avdigits"), name + ".onnx");
            var export = ml.Model.ExportFusionToOnnx(model, rawTest.Schema, path);
            Assert.Contains("MelSpectrogram", export.InGraph);
            Assert.Contains(export.OutsideGraphSteps, s => s is MLNetFusion.Transforms.Audio.AudioLoadingTransformer);
            var expected = model.Transform(rawTest);
            var scores = Columns.Vectors(expected, "Score");
            var (onnxScores, onnxLabels) = OnnxExportTests.RunOnnx(path, export.OutsideGraph.Transform(rawTest), export);
            double worst = 0;
            for (int i = 0; i < scores.Count; i++)
                for (int k = 0; k < scores[i].Length; k++) worst = Math.Max(worst, Math.Abs(scores[i][k] - onnxScores[i][k]));
            _out.WriteLine($"{dataset} {name}: largest probability difference {worst:G3} over {scores.Count} rows, file {new FileInfo(path).Length / 1024} KiB");
            Assert.True(worst <= 1e-4, $"{name}: largest probability difference {worst:G3}");
            Assert.Equal(Columns.Keys(expected, "PredictedLabel"), onnxLabels);
            (fitted as IDisposable)?.Dispose();
        }
    }
}
