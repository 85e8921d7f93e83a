using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Merge;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Infinite values never become a silent model or a silent prediction (part of the reliability work).</summary>
public class NonFiniteInputTests
{
    private static IEstimator<ITransformer> Merge(MLContext ml) => ml.MulticlassClassification.Trainers.MergeFusion(new MergeFusionOptions
    {
        Modalities = new() { ModalityOptions.Image("Image", "image"), ModalityOptions.Tabular("Tab", "tab", 16) }, Epochs = 1, Seed = 1,
    });

    [Fact]
    public void InfinityInTrainingFeaturesIsAnErrorNamingTheRowAndColumn()
    {
        var ml = new MLContext(seed: 1);
        var rows = ToyRow.Make(60, 1);
        rows[5].Tab[2] = float.PositiveInfinity;
        var ex = Assert.Throws<InvalidOperationException>(() => Merge(ml).Fit(ToyRow.Load(ml, rows)));
        Assert.StartsWith("Row 5: column 'Tab' has 1 infinite value(s) (the first is +Inf at index 2).", ex.Message);
        Assert.Contains("Hint: infinities usually come from a log of zero", ex.Message);
    }

    [Fact]
    public void InfinityAtPredictionIsAnErrorNotANaNScore()
    {
        var ml = new MLContext(seed: 1);
        using var model = (IDisposable)Merge(ml).Fit(ToyRow.Load(ml, ToyRow.Make(60, 1)));
        var rows = ToyRow.Make(10, 2);
        rows[7].Image[3] = float.NegativeInfinity;
        var scored = ((ITransformer)model).Transform(ToyRow.Load(ml, rows));
        var ex = Assert.Throws<InvalidOperationException>(() => scored.GetColumn<Microsoft.ML.Data.VBuffer<float>>("Score").ToList());
        Assert.StartsWith("Row 7: column 'Image' has 1 infinite value(s) (the first is -Inf at index 3).", ex.Message);
    }
}
