using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Training;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Evidence-based modality selection: a modality that does not help on held-out rows is switched off, and the choice is saved.</summary>
public class ModalitySelectionTests
{
    private static NetworkFusionOptions Options(bool select) => new()
    {
        Modalities = new()
        {
            new ModalityOptions { Name = "image", ColumnName = "Image", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 8, 16 }, OutputWidth = 32 } },
            ModalityOptions.Tabular("Tab", "tab", 32, 16),
        },
        Epochs = 12, Seed = 3, SelectModalities = select, ModalitiesUsedColumnName = "Used",
    };

    /// <summary>Validation rows whose image tells the wrong half of the label: the image misleads there.</summary>
    private static List<ToyRow> Misleading(int n, int seed)
    {
        var rows = ToyRow.Make(n, seed);
        foreach (var r in rows) r.Label ^= 1;   // the image shows bit 0 of the old label; the tabular bit 1 is unchanged
        return rows;
    }

    [Fact]
    public void AModalityThatHurtsOnValidationRowsIsSwitchedOffAndTheChoiceIsSaved()
    {
        var ml = new MLContext(1);
        var train = ToyRow.Load(ml, ToyRow.Make(400, 1));
        var validation = ToyRow.Load(ml, Misleading(200, 2));
        using var model = ml.MulticlassClassification.Trainers.NetworkFusion(Options(select: true)).Fit(train, validation);
        Assert.Equal(new[] { "image" }, model.UnusedModalities);
        var test = ToyRow.Load(ml, ToyRow.Make(100, 3));
        var scored = model.Transform(test);
        // Every row has its tabular part, so no row uses the image.
        Assert.All(Columns.Vectors(scored, "Score"), s => Assert.Equal(1, s.Sum(), 3));
        using (var cursor = scored.GetRowCursor(new[] { scored.Schema["Used"] }))
        {
            var getter = cursor.GetGetter<Microsoft.ML.Data.VBuffer<bool>>(scored.Schema["Used"]);
            Microsoft.ML.Data.VBuffer<bool> used = default;
            while (cursor.MoveNext()) { getter(ref used); Assert.Equal(new[] { false, true }, used.DenseValues().ToArray()); }
        }
        // Switched off, the image no longer changes predictions: the same rows with other rows' images score the same.
        var rows = ToyRow.Make(100, 3);
        var shuffled = rows.Select((r, i) => new ToyRow { Label = r.Label, Tab = r.Tab, Image = rows[(i + 37) % rows.Count].Image }).ToList();
        Assert.Equal(Columns.Vectors(scored, "Score"), Columns.Vectors(model.Transform(ToyRow.Load(ml, shuffled)), "Score"));

        using var ms = new MemoryStream();
        ml.Model.SaveFusionModel(model, train.Schema, ms);
        using var loaded = (FusionPredictionTransformer)new MLContext(2).Model.LoadFusionModel(new MemoryStream(ms.ToArray()), out _);
        Assert.Equal(new[] { "image" }, loaded.UnusedModalities);
        Assert.Equal(Columns.Vectors(scored, "Score"), Columns.Vectors(loaded.Transform(test), "Score"));
    }

    [Fact]
    public void ModalitiesThatHelpAreKeptAndTheOptionTurnsSelectionOff()
    {
        var ml = new MLContext(1);
        var train = ToyRow.Load(ml, ToyRow.Make(400, 1));
        using (var both = ml.MulticlassClassification.Trainers.NetworkFusion(Options(select: true)).Fit(train, ToyRow.Load(ml, ToyRow.Make(200, 2))))
            Assert.Empty(both.UnusedModalities);
        using var off = ml.MulticlassClassification.Trainers.NetworkFusion(Options(select: false)).Fit(train, ToyRow.Load(ml, Misleading(200, 2)));
        Assert.Empty(off.UnusedModalities);
    }

    [Fact]
    public void PairedGainIsTheMeanDifferenceAndItsStandardError()
    {
        var (gain, se) = ModalitySelection.PairedGain(new double[] { 1, 2, 3, 4 }, new double[] { 0.5, 1.5, 3, 3 });
        // differences 0.5, 0.5, 0, 1: mean 0.5, sample variance 1/6, standard error sqrt(1/6 / 4)
        Assert.Equal(0.5, gain, 12);
        Assert.Equal(Math.Sqrt(1.0 / 6 / 4), se, 12);
        Assert.Equal(double.PositiveInfinity, ModalitySelection.PairedGain(new double[] { 1 }, new double[] { 0 }).standardError);
    }

    [Fact]
    public void AModalitysLearningRateMultiplierScalesItsEncoderAndZeroFreezesIt()
    {
        var ml = new MLContext(1);
        var train = ToyRow.Load(ml, ToyRow.Make(200, 1));
        Dictionary<string, float[]> Weights(double imageRate, int epochs)
        {
            var o = Options(select: false);
            o.Epochs = epochs;
            o.Modalities[0].LearningRateMultiplier = imageRate;
            using var model = ml.MulticlassClassification.Trainers.NetworkFusion(o).Fit(train);
            return model.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        }
        // The same seed builds the same initial network, so a frozen encoder ends where it started, however long it trains.
        var frozen1 = Weights(0, 1); var frozen3 = Weights(0, 3);
        var image = frozen1.Keys.Where(k => k.StartsWith("encoders.0.", StringComparison.Ordinal)).ToList();
        var tabular = frozen1.Keys.Where(k => k.StartsWith("encoders.1.", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(image);
        Assert.All(image, k => Assert.Equal(frozen1[k], frozen3[k]));
        Assert.Contains(tabular, k => !frozen1[k].SequenceEqual(frozen3[k]));
        var free1 = Weights(1, 1); var free3 = Weights(1, 3);
        Assert.Contains(image, k => !free1[k].SequenceEqual(free3[k]));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => { var o = Options(true); o.Modalities[0].LearningRateMultiplier = -1; o.Validate(); });
        Assert.StartsWith("Modality 'image': LearningRateMultiplier must be in [0, 10].", e.Message);
    }

    [Fact]
    public void ModalityHeadsJoinThePredictionAsAProductOfExpertsAndAreSaved()
    {
        // The network's own TorchSharp computation, compared bit for bit with Predict (ONNX Runtime's agrees to 1e-4: OnnxExportTests).
        using var torchSharp = FusionServing.Use(FusionServingEngine.TorchSharp);
        var ml = new MLContext(1);
        var train = ToyRow.Load(ml, ToyRow.Make(300, 1));
        var test = ToyRow.Load(ml, ToyRow.Make(60, 3));
        var o = Options(select: false);
        o.Epochs = 4;
        o.ModalityHeadWeight = 1;
        using var model = ml.MulticlassClassification.Trainers.NetworkFusion(o).Fit(train);
        Assert.Equal(1, model.Network.ModalityHeadWeight);
        var s1 = Columns.Vectors(model.Transform(test), "Score");
        model.Network.ModalityHeadWeight = 0;
        var s0 = Columns.Vectors(model.Transform(test), "Score");
        model.Network.ModalityHeadWeight = 2;
        var s2 = Columns.Vectors(model.Transform(test), "Score");
        model.Network.ModalityHeadWeight = 1;
        Assert.NotEqual(s0, s1);
        // Transform's batches say that every row has both modalities, so the heads skip their masks: the same
        // probabilities, bit for bit, as a batch that does not say (Predict on flat arrays), with the masks applied.
        var flat = o.Modalities.Select(m => Columns.Vectors(test, m.ColumnName).SelectMany(v => v).ToArray()).ToArray();
        var (unmarked, _) = model.Predict(flat, flat.Select(_ => Enumerable.Repeat(1f, s1.Count).ToArray()).ToArray(), s1.Count, wantEmbedding: false);
        Assert.Equal(s1.SelectMany(v => v).ToArray(), unmarked.Take(s1.Count * s1[0].Length).ToArray());
        // Score(w) ∝ p_fused · Π p_head^w, so log s2 − 2 log s1 + log s0 is the same for every class of a row.
        for (int r = 0; r < s0.Count; r++)
        {
            var d = Enumerable.Range(0, s0[r].Length).Select(k => Math.Log(s2[r][k]) - 2 * Math.Log(s1[r][k]) + Math.Log(s0[r][k])).ToArray();
            Assert.True(d.Max() - d.Min() < 1e-3, $"row {r}: {string.Join(", ", d.Select(v => v.ToString("F5")))}");
        }
        using var ms = new MemoryStream();
        ml.Model.SaveFusionModel(model, train.Schema, ms);
        using var loaded = (FusionPredictionTransformer)new MLContext(2).Model.LoadFusionModel(new MemoryStream(ms.ToArray()), out _);
        Assert.Equal(1, loaded.Network.ModalityHeadWeight);
        Assert.Equal(s1, Columns.Vectors(loaded.Transform(test), "Score"));
        // Without auxiliary heads the fused head predicts alone, whatever the weight, and setting one is an error.
        var noHeads = Options(select: false);
        noHeads.Epochs = 1;
        noHeads.AuxiliaryLossWeight = 0;
        using var plain = ml.MulticlassClassification.Trainers.NetworkFusion(noHeads).Fit(train);
        Assert.False(plain.Network.HasModalityHeads);
        Assert.Equal(0, plain.Network.ModalityHeadWeight);
        var e = Assert.Throws<InvalidOperationException>(() => plain.Network.ModalityHeadWeight = 1);
        Assert.Equal("This network has no per-modality heads (it was built with AuxiliaryLossWeight 0)." + Environment.NewLine +
            "Hint: retrain with AuxiliaryLossWeight above 0 (default 0.5) to use the heads in the prediction.", e.Message);
        // Every weight a network accepts can be saved and loaded: the setter holds the loader's range.
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Network.ModalityHeadWeight = FusionNetwork.MaxModalityHeadWeight + 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Network.ModalityHeadWeight = double.NaN);
    }
}
