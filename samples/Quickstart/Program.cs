using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Merge;

var ml = new MLContext(seed: 1);
IDataView Load(string file) => ml.Data.LoadFromTextFile<Row>(Path.Combine("data", file), separatorChar: ',', hasHeader: true);
IDataView train = Load("train.csv"), test = Load("test.csv");

var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    // image: ML.NET's own chain
    .Append(ml.Transforms.LoadImages("Image", "data", "ImagePath"))
    .Append(ml.Transforms.ResizeImages("Image", 28, 28))
    .Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255))
    // audio: MLNetFusion's WAV loader and log-mel spectrogram ([bands, frames] is recorded in the column type)
    .Append(ml.Transforms.LoadAudio("Audio", "data", "AudioPath", sampleRate: 8000, durationSeconds: 1.0))
    .Append(ml.Transforms.MelSpectrogram("LogMel", "Audio", fftSize: 256, hopLength: 128, bands: 40))
    .AppendCacheCheckpoint(ml)
    // merge fusion: a CNN per modality, embeddings merged by attention, trained end to end
    .Append(ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions
    {
        Modalities = new() { ModalityOptions.Image("Pixels"), ModalityOptions.Audio("LogMel") },
        Operation = MergeOperation.Attention,
        Epochs = 15,
        // progress while it trains: one line per epoch
        Progress = e => Console.WriteLine($"epoch {e.Epoch}/{e.Epochs}: loss {e.TrainLoss:F3}, {e.Elapsed.TotalSeconds:F0} s"),
    }));

Console.WriteLine("featurizing and training…");
var model = pipeline.Fit(train);
var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine($"accuracy {metrics.MicroAccuracy:F4}");

ml.Model.SaveFusionModel(model, train.Schema, "model.zip");   // one file, with the featurization
var loaded = ml.Model.LoadFusionModel("model.zip", out _);     // as another process would
Console.WriteLine($"reloaded accuracy {ml.MulticlassClassification.Evaluate(loaded.Transform(test)).MicroAccuracy:F4}");

public sealed class Row
{
    [LoadColumn(1)] public string Label { get; set; } = "";
    [LoadColumn(2)] public string ImagePath { get; set; } = "";
    [LoadColumn(3)] public string AudioPath { get; set; } = "";
}
