using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers.Network;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// Images and tabular data go through ML.NET's own components; these tests pin the idiomatic chains MLNetFusion's
/// samples and main job use, on the generated default dataset.
/// </summary>
public class ImageAndTabularPipelineTests
{
    [Fact]
    public void GeneratedDatasetFeaturizesWithMLNetComponents()
    {
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.Synthetic(TestData.SyntheticFolder);
        var (train, test, _) = ds.Featurize(ml);
        Assert.Equal(new[] { 1, 32, 32 }, ((VectorDataViewType)train.Schema[MultimodalDataset.Pixels].Type).Dimensions.ToArray());
        Assert.Equal(new[] { 32, 32 }, ((VectorDataViewType)train.Schema[MultimodalDataset.LogMel].Type).Dimensions.ToArray());
        Assert.Equal(new[] { "Pixels", "LogMel", "Tabular", "Notes.Tokens" }, ds.ModalityColumns);
        Assert.Equal(new[] { "Pixels", "LogMel", "Tabular", "Notes.Text" }, ds.FeatureColumns);
        // 4 numeric columns + one-hot of a 2-valued category.
        Assert.Equal(6, ((VectorDataViewType)train.Schema[MultimodalDataset.Tabular].Type).Size);
        var pixels = Columns.Vectors(train, MultimodalDataset.Pixels);
        Assert.Equal(1200, pixels.Count);
        Assert.All(pixels.Take(20), p => Assert.InRange(p.Max(), 0.3f, 1f));
        var tab = Columns.Vectors(train, MultimodalDataset.Tabular);
        // NormalizeMeanVariance brought Income (about 50,000) and Age (about 40) to unit scale.
        Assert.All(tab, r => Assert.All(r.Take(4), v => Assert.InRange(v, -10f, 10f)));
        Assert.Equal(400, Columns.Keys(test, "Label").Count);
    }

    [Fact]
    public void EachModalityAloneStaysFarBelowFusionOnTheGeneratedDataset()
    {
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.Synthetic(TestData.SyntheticFolder);
        var (train, test, _) = ds.Featurize(ml);
        double Acc(IEnumerable<MLNetFusion.Models.ModalityOptions> mods, int seed = 1)
        {
            // Without the default SpecAugment of the audio, which hides the generated clips' short tone (see TextModalityTests).
            using var model = ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions { Modalities = TestData.WithoutAudioAugmentation(mods), Epochs = 15, Seed = seed }).Fit(train);
            return ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
        }
        // The fused network lands in one of two solutions depending on its initialisation: over context seeds 1-4 it measured
        // 47%, 71%, 73% and 70% (41-73% with the tensor log-mel path), and over trainer seeds 1-3 a median of 46%. So the claim
        // is made of the median of three trainer seeds, with a margin of 15 points over the best single modality (at most 25%).
        double fused = new[] { 1, 2, 3 }.Select(seed => Acc(ds.Modalities(), seed)).OrderBy(a => a).ElementAt(1);
        // Text alone cannot predict the 10% of rows with an empty note (a model with no modality present is an error), so it is measured with the others in TextModalityTests.
        foreach (var m in ds.Modalities().Where(m => m.Kind != MLNetFusion.Models.ModalityKind.Text))
        {
            double single = Acc(new[] { m });
            // Each modality carries one of three binary factors of the 8 classes: at most 25% alone.
            Assert.True(single < 0.3, $"{m.Name} alone: {single:P1}");
            Assert.True(fused > single + 0.15, $"fused (median of three seeds) {fused:P1} vs {m.Name} {single:P1}");
        }
    }

    [Fact]
    public void PretrainedResNet18FeaturesComeFromTheOfflinePackage()
    {
        var ml = new MLContext(seed: 1);
        var folder = TestData.SyntheticFolder;
        var rows = File.ReadLines(Path.Combine(folder, "train.csv")).Skip(1).Take(6).Select(l => new ImageRow { ImagePath = l.Split(',')[2] }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var pipeline = ml.Transforms.LoadImages("Image", folder, "ImagePath")
            .Append(ml.Transforms.ResizeImages("Image", 224, 224))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image"))
            .Append(ml.Transforms.DnnFeaturizeImage("ResNet", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels"));
        var output = pipeline.Fit(data).Transform(data);
        var features = Columns.Vectors(output, "ResNet");
        Assert.Equal(6, features.Count);
        Assert.All(features, f => Assert.Equal(512, f.Length));
        Assert.All(features, f => Assert.True(f.Any(v => v != 0) && f.All(float.IsFinite)));
        Assert.NotEqual(features[0], features[1]);
    }

    private sealed class ImageRow { public string ImagePath { get; set; } = ""; }
}
