using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Transforms.Audio;
using MLNetFusion.Trainers.Featurizers;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// ML.NET's estimator workout (<c>TestEstimatorCore</c>) on every public MLNetFusion estimator: the schema an
/// estimator promises is what its transformer delivers, a missing input column is the documented error, and save then
/// load gives identical outputs.
/// </summary>
public class EstimatorWorkoutTests
{
    private static readonly MLContext Ml = new(seed: 1);

    /// <summary>Rows with every input the estimators read: a key label, an 8×8 image, 4 tabular values, a 1-second clip at 1 kHz, a text.</summary>
    private sealed class Row
    {
        public uint Label { get; set; }
        [VectorType(1, 8, 8)] public float[] Image { get; set; } = Array.Empty<float>();
        [VectorType(4)] public float[] Tab { get; set; } = Array.Empty<float>();
        [VectorType(1000)] public float[] Audio { get; set; } = Array.Empty<float>();
        public string Note { get; set; } = "";
        public string AudioPath { get; set; } = "";
    }

    /// <summary>The rows' clips as 16-bit WAV files, written once (LoadAudio reads them by <see cref="Row.AudioPath"/>).</summary>
    private static readonly Lazy<string> WavFolder = new(() => TestData.TempFolder("workout-wav"));

    private static IDataView Data()
    {
        var toy = ToyRow.Make(96, 5);
        var r = new Random(3);
        var rows = toy.Select((t, i) => new Row
        {
            Label = t.Label, Image = t.Image, Tab = t.Tab, Note = (t.Label & 1) == 0 ? "calm quiet note" : "loud busy note",
            Audio = Enumerable.Range(0, 1000).Select(k => (float)(Math.Sin(k * (0.2 + 0.2 * (t.Label & 2))) * 0.3 + 0.05 * (r.NextDouble() - 0.5))).ToArray(),
            AudioPath = $"{i}.wav",
        }).ToList();
        lock (WavFolder)
            foreach (var row in rows)
            {
                var file = Path.Combine(WavFolder.Value, row.AudioPath);
                if (!File.Exists(file)) WavWriter.Write(file, row.Audio, 1000);
            }
        var data = Ml.Data.LoadFromEnumerable(rows);
        return Ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
    }

    public static IEnumerable<object[]> Estimators() => new[] { "merge", "network", "cross-modal", "fusion-mlp", "late", "featurize-image", "featurize-tabular",
        "featurize-audio", "featurize-text", "load-audio", "mel", "frames", "hash-text" }.Select(n => new object[] { n });

    private static IEstimator<ITransformer> Make(string name)
    {
        var t = Ml.MulticlassClassification.Trainers;
        var mods = new List<ModalityOptions> { new() { Name = "image", ColumnName = "Image", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4 }, OutputWidth = 8 } }, ModalityOptions.Tabular("Tab", "tab", 8) };
        return name switch
        {
            "merge" => t.MergeFusion(new MergeFusionOptions { Modalities = mods, Epochs = 1 }),
            "network" => t.NetworkFusion(new NetworkFusionOptions { Modalities = mods, Epochs = 1 }),
            "cross-modal" => t.CrossModalFusion(new CrossModalFusionOptions { Modalities = mods, Epochs = 1, Width = 8, Heads = 2 }),
            "fusion-mlp" => t.FusionMlp(new FusionMlpOptions { FeatureColumnName = "Tab", Epochs = 1 }),
            "late" => t.LateFusion(new LateFusionOptions { Members = new() { new LateFusionMember("tab", "Tab", t.LbfgsMaximumEntropy("Label", "Tab")), new LateFusionMember("image", "Image", t.LbfgsMaximumEntropy("Label", "Image")) }, NumberOfFolds = 2 }),
            "featurize-image" => Ml.Transforms.FeaturizeImage("ImageEmbedding", "Image", width: 8, epochs: 1),
            "featurize-tabular" => Ml.Transforms.FeaturizeTabular("TabEmbedding", "Tab", hiddenWidths: new[] { 8 }, epochs: 1),
            "featurize-audio" => Ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { OutputColumnName = "LogMel", InputColumnName = "Audio", SampleRate = 1000, FftSize = 64, HopLength = 32, Bands = 8 })
                .Append(Ml.Transforms.FeaturizeAudio("AudioEmbedding", "LogMel", width: 8, epochs: 1)),
            "featurize-text" => Ml.Transforms.HashTextTokens("Tokens", "Note")
                .Append(Ml.Transforms.FeaturizeModality(new ModalityFeaturizerOptions { OutputColumnName = "NoteEmbedding", Epochs = 1, Modality = ModalityOptions.Text("Tokens", "note", 8) })),
            "load-audio" => Ml.Transforms.LoadAudio("Samples", WavFolder.Value, "AudioPath", sampleRate: 1000, durationSeconds: 1),
            "mel" => Ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { OutputColumnName = "LogMel", InputColumnName = "Audio", SampleRate = 1000, FftSize = 64, HopLength = 32, Bands = 8 }),
            "frames" => Ml.Transforms.MelSpectrogram(new MelSpectrogramOptions { OutputColumnName = "LogMel", InputColumnName = "Audio", SampleRate = 1000, FftSize = 64, HopLength = 32, Bands = 8 })
                .Append(Ml.Transforms.SummarizeFrames("Frames", "LogMel")),
            "hash-text" => Ml.Transforms.HashTextTokens("Tokens", "Note"),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    /// <summary>The input column each estimator needs, for the missing-column check.</summary>
    private static string NeededColumn(string name) => name switch
    {
        "mel" or "frames" or "featurize-audio" => "Audio", "hash-text" or "featurize-text" => "Note", "featurize-image" => "Image", "load-audio" => "AudioPath", _ => "Tab",
    };

    [Theory]
    [MemberData(nameof(Estimators))]
    public void PromisedSchemaIsDeliveredMissingInputIsTheDocumentedErrorAndSaveLoadIsIdentical(string name)
    {
        var data = Data();
        var estimator = Make(name);

        // 1. The schema the estimator promises equals what its transformer delivers (names, item types, vector kinds).
        var promised = estimator.GetOutputSchema(MLNetFusion.Data.SchemaShapes.FromSchema(data.Schema));
        var transformer = estimator.Fit(data);
        using var owned = transformer as IDisposable;
        var delivered = transformer.GetOutputSchema(data.Schema);
        foreach (var column in promised)
        {
            var actual = delivered.GetColumnOrNull(column.Name);
            Assert.True(actual != null, $"{name}: promised column '{column.Name}' is not delivered");
            var itemType = actual!.Value.Type is VectorDataViewType v ? v.ItemType : actual.Value.Type;
            Assert.True(column.ItemType.RawType == itemType.RawType, $"{name}: column '{column.Name}' promised {column.ItemType}, delivered {actual.Value.Type}");
            bool isVector = actual.Value.Type is VectorDataViewType;
            Assert.True((column.Kind != SchemaShape.Column.VectorKind.Scalar) == isVector, $"{name}: column '{column.Name}' promised {column.Kind}, delivered {actual.Value.Type}");
        }
        foreach (var column in delivered.Where(c => !c.IsHidden))
            Assert.True(promised.Any(c => c.Name == column.Name), $"{name}: delivered column '{column.Name}' was not promised");

        // 2. A missing input column is ML.NET's error, named, with a Hint.
        var missing = Ml.Transforms.DropColumns(NeededColumn(name)).Fit(data).Transform(data);
        var error = Assert.ThrowsAny<ArgumentException>(() => estimator.GetOutputSchema(MLNetFusion.Data.SchemaShapes.FromSchema(missing.Schema)));
        Assert.Contains($"'{NeededColumn(name)}'", error.Message);

        // 3. Save then load gives identical outputs.
        using var file = new MemoryStream();
        Ml.Model.SaveFusionModel(transformer, data.Schema, file);
        var loaded = Ml.Model.LoadFusionModel(new MemoryStream(file.ToArray()), out _);
        try
        {
            var a = transformer.Transform(data);
            var b = loaded.Transform(data);
            // Every column the estimator adds, of any type (scores, keys, flags, texts), row by row.
            var added = a.Schema.Where(c => !c.IsHidden && !data.Schema.GetColumnOrNull(c.Name).HasValue).Select(c => c.Name).ToList();
            Assert.NotEmpty(added);
            var before = a.Preview(1000);
            var after = b.Preview(1000);
            Assert.Equal(before.RowView.Length, after.RowView.Length);
            foreach (var column in added)
            {
                var x = before.ColumnView.Single(c => c.Column.Name == column && !c.Column.IsHidden).Values.Select(Cell).ToArray();
                var y = after.ColumnView.Single(c => c.Column.Name == column && !c.Column.IsHidden).Values.Select(Cell).ToArray();
                Assert.True(x.SequenceEqual(y), $"{name}: column '{column}' differs after save and load (first row: {x.FirstOrDefault()} against {y.FirstOrDefault()})");
            }
        }
        finally { (loaded as IDisposable)?.Dispose(); }
    }

    /// <summary>A cell as exact text: every value of a vector (floats to the last bit), a key's number, a text's characters.</summary>
    private static string Cell(object? value) => value switch
    {
        VBuffer<float> v => string.Join(",", v.DenseValues().Select(f => BitConverter.SingleToInt32Bits(f).ToString(System.Globalization.CultureInfo.InvariantCulture))),
        VBuffer<double> v => string.Join(",", v.DenseValues().Select(f => BitConverter.DoubleToInt64Bits(f).ToString(System.Globalization.CultureInfo.InvariantCulture))),
        VBuffer<uint> v => string.Join(",", v.DenseValues()),
        VBuffer<bool> v => string.Join(",", v.DenseValues()),
        VBuffer<ReadOnlyMemory<char>> v => string.Join("\u0001", v.DenseValues().Select(t => t.ToString())),
        float f => BitConverter.SingleToInt32Bits(f).ToString(System.Globalization.CultureInfo.InvariantCulture),
        double d => BitConverter.DoubleToInt64Bits(d).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ReadOnlyMemory<char> t => t.ToString(),
        null => "null",
        _ => value.GetType().IsValueType && value.GetType().IsPrimitive ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!
            : throw new InvalidOperationException($"The workout cannot compare a {value.GetType()} cell yet: add its case."),
    };
}
