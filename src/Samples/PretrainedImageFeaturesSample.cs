using Microsoft.ML;
using MLNetFusion.Datasets;

namespace MLNetFusion.Samples;

/// <summary>
/// Pretrained image features with ML.NET's own <c>DnnFeaturizeImage</c> and the ResNet18 package (offline), then any
/// trainer. The 512 features can be concatenated with audio and tabular features for early fusion.
/// </summary>
public static class PretrainedImageFeaturesSample
{
    /// <summary>Runs the sample on a few images of the generated dataset.</summary>
    public static void Example()
    {
        var resnet = Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");
        if (!File.Exists(resnet))
            throw new FileNotFoundException($"This sample needs ResNet18's weights at '{resnet}', which the mlnetfusion tool package leaves out (nuget.org's 250 MB limit holds libtorch and the sentence encoder)." +
                Environment.NewLine + "Hint: run it from source (dotnet run --project src/Cli -c Release -- sample pretrained-image), or reference Microsoft.ML.DnnImageFeaturizer.ResNet18 in your own app.", resnet);
        var folder = SyntheticMultimodalDataset.EnsureGenerated(DefaultPaths.SyntheticData);
        var ml = new MLContext(seed: 1);
        var rows = File.ReadLines(Path.Combine(folder, "train.csv")).Skip(1).Take(200)
            .Select(l => l.Split(',')).Select(p => new ImageRow { Label = p[1].StartsWith("disc") ? "disc" : "square", ImagePath = p[2] }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", folder, "ImagePath"))
            .Append(ml.Transforms.ResizeImages("Image", 224, 224))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image"))
            .Append(ml.Transforms.DnnFeaturizeImage("ResNet", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels"))
            .Append(ml.Transforms.NormalizeMeanVariance("ResNet"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "ResNet"));
        var split = ml.Data.TrainTestSplit(data, 0.25, seed: 1);
        var model = pipeline.Fit(split.TrainSet);
        var m = ml.MulticlassClassification.Evaluate(model.Transform(split.TestSet));
        Console.WriteLine($"ResNet18 features + L-BFGS, disc vs square: accuracy {m.MicroAccuracy:P1}");
        // Expected output: accuracy well above the 50% of chance.
    }

    private sealed class ImageRow { public string Label { get; set; } = ""; public string ImagePath { get; set; } = ""; }
}
