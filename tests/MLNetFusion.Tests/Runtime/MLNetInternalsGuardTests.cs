using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Runtime;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// Guards the two places MLNetFusion reaches past ML.NET's public API. If an ML.NET update breaks either, these fail
/// with the reason, instead of users seeing odd behaviour.
/// </summary>
public class MLNetInternalsGuardTests
{
    [Fact]
    public void CatalogEnvironmentIsReachableAndIsTheContextsOwn()
    {
        var ml = new MLContext(seed: 3);
        var env = FusionEnvironment.FromCatalog(ml.MulticlassClassification.Trainers);
        Assert.NotNull(env);
        Assert.NotNull(FusionEnvironment.FromCatalog(ml.Transforms));
        // Same seed, same derived host randomness: the environment really is the MLContext's.
        var a = FusionEnvironment.FromCatalog(new MLContext(seed: 3).Transforms).Register("x").Rand.Next();
        var b = FusionEnvironment.FromCatalog(new MLContext(seed: 3).Transforms).Register("x").Rand.Next();
        Assert.Equal(a, b);
        var messages = new List<string>();
        ml.Log += (_, e) => messages.Add(e.Message);
        using (var ch = env.Register("Guard").Start("probe")) ch.Info(Microsoft.ML.Runtime.MessageSensitivity.None, "reached the MLContext log");
        Assert.Contains(messages, m => m.Contains("reached the MLContext log"));
    }

    [Fact]
    public void SchemaShapeColumnsCanBeBuiltThroughTheirPublicFields()
    {
        var keyValues = new SchemaShape(new[] { SchemaShapes.Column("KeyValues", SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        var c = SchemaShapes.Column("Label", SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, keyValues);
        Assert.Equal("Label", c.Name);
        Assert.Equal(SchemaShape.Column.VectorKind.Scalar, c.Kind);
        Assert.Equal(NumberDataViewType.UInt32, c.ItemType);
        Assert.True(c.IsKey);
        Assert.Equal("KeyValues", Assert.Single(c.Annotations).Name);
        // ML.NET's own estimators accept our shape: a real round trip through public API.
        var shape = new SchemaShape(new[] { c });
        var output = ml.Transforms.Conversion.MapKeyToValue("Value", "Label").GetOutputSchema(shape);
        Assert.Contains(output, x => x.Name == "Value");
    }

    /// <summary>
    /// MLNetFusion writes its own model file because ML.NET keeps its model format's extension points internal. Checked on
    /// ML.NET 6.0.0: still so. If a release opens them, this fails, and the native format should be used instead.
    /// </summary>
    [Fact]
    public void MLNetModelFormatExtensionPointsAreStillInternal()
    {
        var core = typeof(ICanSaveModel).Assembly;
        var saveContext = core.GetType("Microsoft.ML.ModelSaveContext", throwOnError: true)!;
        Assert.Empty(saveContext.GetConstructors());                       // no public way to create one
        Assert.DoesNotContain(saveContext.GetMethods(), m => m.Name is "SaveModel" or "SaveBinaryStream");
        var loadable = core.GetType("Microsoft.ML.LoadableClassAttribute");
        Assert.True(loadable == null || !loadable.IsPublic, "LoadableClassAttribute is public now: register MLNetFusion's components with ML.NET's loader.");
        var mlnet = typeof(MLContext).Assembly.GetName().Version!;
        Assert.True(mlnet.Major >= 1, $"ML.NET {mlnet}");
    }

    [Fact]
    public void AnImageLoadersPathColumnsAreReadableForServingChecks()
    {
        // Serving checks image paths by line and column before ML.NET's loader sees them; it reads the loader's column
        // pairs from the protected field OneToOneTransformerBase.ColumnPairs. If ML.NET renames it, this fails loudly.
        Assert.NotNull(MLNetFusion.Serving.ModelServer.ColumnPairsField);
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { Photo = "a.png" } });
        var loader = ml.Transforms.LoadImages("Image", "/tmp", "Photo").Fit(data);
        Assert.Equal(new[] { "Photo" }, MLNetFusion.Serving.ModelServer.ImageInputColumns(loader));
    }

    [Fact]
    public void OnnxExportReadsTheColumnsOfConcatenateAndOneToOneTransformers()
    {
        // The ONNX exporter reads Concatenate's internal Columns and OneToOneTransformerBase.ColumnPairs (normalizers,
        // CopyColumns, MapKeyToValue). If ML.NET renames either, this fails loudly instead of an export going wrong.
        Assert.NotNull(MLNetFusion.Onnx.FusionOnnxExporter.ColumnPairsField);
        Assert.NotNull(MLNetFusion.Onnx.FusionOnnxExporter.ConcatColumnsProperty);
        var data = ml.Data.LoadFromEnumerable(new[] { new NumberRow { A = 1, B = 2 }, new NumberRow { A = 3, B = 5 } });
        var concat = (Microsoft.ML.Data.ColumnConcatenatingTransformer)ml.Transforms.Concatenate("F", "A", "B").Fit(data);
        var (output, inputs) = Assert.Single(MLNetFusion.Onnx.FusionOnnxExporter.ConcatColumns(concat));
        Assert.Equal("F", output);
        Assert.Equal(new[] { "A", "B" }, inputs);
        var copy = ml.Transforms.CopyColumns("C", "A").Fit(data);
        Assert.Equal(new[] { ("C", "A") }, MLNetFusion.Onnx.FusionOnnxExporter.ColumnPairs(copy));
    }

    private sealed class NumberRow { public float A { get; set; } public float B { get; set; } }

    private sealed class PathRow { public string Photo { get; set; } = ""; }

    private readonly MLContext ml = new(seed: 1);
}
