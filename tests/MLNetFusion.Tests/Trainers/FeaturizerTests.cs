using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Transforms.Audio;
using MLNetFusion.Trainers.Featurizers;
using Xunit;

namespace MLNetFusion.Tests;

public class FeaturizerTests
{
    [Fact]
    public void TrainableFeaturizerOutputsEmbeddingsThatAnyTrainerCanUse()
    {
        var ml = new MLContext(seed: 1);
        var train = ToyRow.Load(ml, ToyRow.Make(400, 1));
        var test = ToyRow.Load(ml, ToyRow.Make(200, 2));
        var featurizer = ml.Transforms.FeaturizeImage("ImageEmbedding", "Image", width: 16, epochs: 8);
        var predicted = featurizer.GetOutputSchema(MLNetFusion.Data.SchemaShapes.FromSchema(train.Schema));
        Assert.Contains(predicted, c => c.Name == "ImageEmbedding");
        Assert.DoesNotContain(predicted, c => c.Name == "Score");
        var pipeline = featurizer
            .Append(ml.Transforms.Concatenate("Features", "ImageEmbedding", "Tab"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
        var model = pipeline.Fit(train);
        // The fitted featurizer says what it is: one embedding column of its encoder's width, nothing predicted.
        var fitted = ((IEnumerable<ITransformer>)model).OfType<ModalityFeaturizerTransformer>().Single();
        Assert.Equal(("ImageEmbedding", 16, "Image"), (fitted.OutputColumnName, fitted.EmbeddingWidth, fitted.Encoder.InputColumn));
        Assert.Equal(8, fitted.Summary!.History.Count);
        var output = model.Transform(test);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 16), output.Schema["ImageEmbedding"].Type);
        // Learned image features (bit 0) + tabular (bit 1): early fusion with a linear trainer solves the task.
        var acc = ml.MulticlassClassification.Evaluate(output).MicroAccuracy;
        Assert.True(acc > 0.85, $"accuracy {acc:P1}");
    }

    [Fact]
    public void SummarizeFramesGivesPerBandMeanAndStd()
    {
        var ml = new MLContext(seed: 1);
        var mel = new float[2 * 3] { 1, 2, 3, /* band 1 */ 4, 4, 4 };
        var schema = SchemaDefinition.Create(typeof(MelRow));
        schema["Mel"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 2, 3);
        var data = ml.Data.LoadFromEnumerable(new[] { new MelRow { Mel = mel }, new MelRow { Mel = Enumerable.Repeat(float.NaN, 6).ToArray() } }, schema);
        var output = ml.Transforms.SummarizeFrames("Stats", "Mel").Fit(data).Transform(data);
        Assert.Equal(new[] { 2, 2 }, ((VectorDataViewType)output.Schema["Stats"].Type).Dimensions.ToArray());
        var rows = Columns.Vectors(output, "Stats");
        Assert.Equal(2f, rows[0][0], 5);
        Assert.Equal(4f, rows[0][1], 5);
        Assert.Equal((float)Math.Sqrt(2.0 / 3), rows[0][2], 5);
        Assert.Equal(0f, rows[0][3], 5);
        Assert.All(rows[1], v => Assert.True(float.IsNaN(v)));
    }

    private sealed class MelRow { public float[] Mel { get; set; } = Array.Empty<float>(); }
}
