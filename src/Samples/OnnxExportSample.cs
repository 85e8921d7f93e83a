using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.Merge;

namespace MLNetFusion.Samples;

/// <summary>
/// Export a fitted pipeline (featurization and merge fusion) to one ONNX file with its log-mel, standardisation and
/// missing-modality rule inside the graph, then serve it in an ML.NET pipeline with <c>ApplyOnnxModel</c>: the steps
/// that decode WAV and image files and tokenise text run before the graph, as in ML.NET's own ONNX export.
/// Run: <c>dotnet run --project src/Cli -c Release -- sample onnx-export</c>.
/// </summary>
public static class OnnxExportSample
{
    /// <summary>Runs the sample; returns the test rows, how many predicted labels agree, and the largest probability difference.</summary>
    public static (int rows, int sameLabels, double maxDifference) Example(int epochs = 8)
    {
        var folder = SyntheticMultimodalDataset.EnsureGenerated(DefaultPaths.SyntheticData);
        var dataset = MultimodalDataset.Synthetic(folder);
        var ml = new MLContext(seed: 1);
        var rawTrain = dataset.Load(ml, dataset.TrainFile);
        var rawTest = dataset.Load(ml, dataset.TestFile);

        // 1. Fit: the feature chain (it reads neither the label nor the group) and a merge-fusion network.
        var labelToKey = dataset.LabelToKey(ml).Fit(rawTrain);
        var features = dataset.FeatureChain(ml).Fit(rawTrain);
        var train = ml.Data.Cache(features.Transform(labelToKey.Transform(rawTrain)));
        using var fusion = ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions { Modalities = dataset.Modalities(), Epochs = epochs }).Fit(train);
        var model = new TransformerChain<ITransformer>(features, fusion);

        // 2. Export: one ONNX file; the result says which steps are in the graph and which stay outside it.
        Directory.CreateDirectory(DefaultPaths.Artifacts);
        var path = Path.GetFullPath(DefaultPaths.Artifact("fusion-model.onnx"));
        var export = ml.Model.ExportFusionToOnnx(model, rawTest.Schema, path);
        Console.WriteLine($"Wrote {path} ({export.Bytes / 1024} KiB, opset {export.Opset}).");
        Console.WriteLine("In the graph:      " + string.Join(" -> ", export.InGraph));
        Console.WriteLine("Outside the graph: " + string.Join(", ", export.OutsideGraphNames));
        Console.WriteLine("Graph inputs:      " + string.Join(", ", export.Inputs.Select(i => $"{i.Name}[{i.Size}]")));

        // 3. Serve: the outside steps, then ML.NET's ApplyOnnxModel runs the graph with ONNX Runtime.
        var graphInputs = export.OutsideGraph.Transform(rawTest);
        var onnx = ml.Transforms.ApplyOnnxModel(new[] { "Score" }, export.Inputs.Select(i => i.Name).ToArray(), path).Fit(graphInputs);
        var served = onnx.Transform(graphInputs);

        // 4. The graph predicts what the TorchSharp model predicts.
        var expected = Scores(model.Transform(rawTest));
        var actual = Scores(served);
        int same = expected.Zip(actual).Count(p => ArgMax(p.First) == ArgMax(p.Second));
        double worst = expected.Zip(actual).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
        Console.WriteLine($"ApplyOnnxModel: {actual.Count} rows, {same} with the same predicted class as TorchSharp, largest probability difference {worst:G2}.");
        (onnx as IDisposable)?.Dispose();
        // Expected output:
        //   Wrote …/artifacts/fusion-model.onnx (… KiB, opset 17).
        //   In the graph:      MelSpectrogram -> ColumnConcatenating -> Normalizing -> FusionPrediction
        //   ApplyOnnxModel: 400 rows, 400 with the same predicted class as TorchSharp, largest probability difference ~1e-7.
        return (actual.Count, same, worst);
    }

    private static List<float[]> Scores(IDataView data)
    {
        var result = new List<float[]>();
        using var cursor = data.GetRowCursor(new[] { data.Schema["Score"] });
        var getter = cursor.GetGetter<VBuffer<float>>(data.Schema["Score"]);
        VBuffer<float> buffer = default;
        while (cursor.MoveNext()) { getter(ref buffer); result.Add(buffer.DenseValues().ToArray()); }
        return result;
    }

    private static int ArgMax(float[] v) => Array.IndexOf(v, v.Max());
}
