using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.AutoML;
using MLNetFusion.Models;
using MLNetFusion.Persistence;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Network;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace MLNetFusion.Tests;

/// <summary>
/// A modality kind a library adds (a fixed-length time series with its own 1-D convolution encoder): two classes of
/// its own, registered once; it trains in a fusion network, saves and loads as any other.
/// </summary>
public class ModalityKindPluginTests
{
    internal sealed class TimeSeriesKind : IModalityKind
    {
        public static readonly ModalityKind Name = new("TimeSeries");
        public ModalityKind Kind => Name;
        public EncoderKind DefaultEncoder => Conv1dEncoderKind.Name;
        public ModalityAugmentation DefaultAugmentation(double strength) => new() { Noise = 0.05 * strength };
        public bool NeuralLateFusionMember => true;
        public IModalityColumnInference ColumnInference { get; } = new TimeSeriesColumns();
        // A setting of its modalities a sweep may tune, as the audio kind's SpecAugment strength is.
        public IReadOnlyList<ModalityTuning> Tunings { get; } = new[]
            { new ModalityTuning("seriesKernelSize", "the Conv1d encoder's kernel size", new object[] { 5, 9 }, (m, v) => m.EncoderOptionsAs<Conv1dEncoderOptions>().KernelSize = (int)v) };
    }

    /// <summary>
    /// A CSV cell of <see cref="Length"/> numbers separated by spaces is a time series; the featurizer parses it into a
    /// vector with a <c>CustomMapping</c> (saved by ML.NET, its factory registered by the application).
    /// </summary>
    internal sealed class TimeSeriesColumns : IModalityColumnInference
    {
        public const int Length = 64;

        public string? Recognize(string columnName, IReadOnlyList<string> values)
            => values.All(v => Parse(v) is { Length: Length }) ? $"{Length} numbers per row" : null;

        public ModalityFeaturization Featurize(MLContext ml, ModalityColumnContext c)
        {
            // CustomMapping binds by member name when it loads, so the mapping reads and writes fixed names around copies.
            var chain = ml.Transforms.CopyColumns(nameof(SeriesText.SeriesCell), c.InputColumnName)
                .Append(ml.Transforms.CustomMapping(new SeriesParser().GetMapping(), SeriesParser.Contract))
                .Append(ml.Transforms.CopyColumns(c.OutputColumnName, nameof(SeriesValues.SeriesVector)));
            return new ModalityFeaturization(chain, new ModalityOptions { Name = c.InputColumnName, ColumnName = c.OutputColumnName, Kind = TimeSeriesKind.Name, EncoderOptions = new Conv1dEncoderOptions { OutputWidth = 16 } });
        }

        internal static float[]? Parse(string v)
        {
            var parts = v.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var xs = new float[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!float.TryParse(parts[i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out xs[i])) return null;
            return xs;
        }
    }

    public sealed class SeriesText { public string SeriesCell { get; set; } = ""; }
    public sealed class SeriesValues { [VectorType(TimeSeriesColumns.Length)] public float[] SeriesVector { get; set; } = new float[TimeSeriesColumns.Length]; }

    [Microsoft.ML.Transforms.CustomMappingFactoryAttribute(Contract)]
    public sealed class SeriesParser : Microsoft.ML.Transforms.CustomMappingFactory<SeriesText, SeriesValues>
    {
        public const string Contract = "MLNetFusion.Tests.TimeSeries";
        public override Action<SeriesText, SeriesValues> GetMapping() => (input, output) =>
        {
            var xs = TimeSeriesColumns.Parse(input.SeriesCell);
            if (xs is not { Length: TimeSeriesColumns.Length })
                throw new InvalidDataException($"A time series cell holds {xs?.Length.ToString() ?? "a value that is not"} numbers, not {TimeSeriesColumns.Length}: '{input.SeriesCell}'.");
            output.SeriesVector = xs;
        };
    }

    /// <summary>The Conv1d encoder's own settings: saved with a model by the encoder's name, validated by its kind.</summary>
    public sealed class Conv1dEncoderOptions : EncoderOptions
    {
        public override EncoderKind Kind => Conv1dEncoderKind.Name;
        public int Channels { get; set; } = 8;
        public int KernelSize { get; set; } = 5;
        public int OutputWidth { get; set; } = 16;

        public override void Validate(string modality)
        {
            if (OutputWidth > 256) throw new ArgumentException($"Modality '{modality}': a Conv1d encoder has at most 256 outputs.", nameof(OutputWidth));
            if (KernelSize % 2 == 0) throw new ArgumentException($"Modality '{modality}': a Conv1d encoder's kernel size must be odd (it pads the series to keep its length).", nameof(KernelSize));
        }
    }

    internal sealed class Conv1dEncoderKind : IEncoderKind
    {
        public static readonly EncoderKind Name = new("Conv1d");
        public EncoderKind Kind => Name;
        public EncoderOptions CreateOptions() => new Conv1dEncoderOptions();
        public ModalityEncoder Create(ModalityOptions o, int[] shape, FeatureStatistics stats)
            => o.EncoderOptionsAs<Conv1dEncoderOptions>() is var c ? new Conv1dEncoder(o.Name, o.ColumnName, shape[0], c.Channels, c.KernelSize, c.OutputWidth) : null!;
        public double MinimumParameters(ModalityOptions o, int[] shape, int size)
            => o.EncoderOptionsAs<Conv1dEncoderOptions>() is var c ? (double)c.Channels * c.OutputWidth : 0;   // the projection from its channels
    }

    /// <summary>Conv1d(1 → channels, kernel) → ReLU → mean over time → Linear → ReLU.</summary>
    internal sealed class Conv1dEncoder : ModalityEncoder
    {
        private readonly Conv1d conv;
        private readonly Linear projection;
        private readonly int _width;

        public Conv1dEncoder(string name, string column, int length, int channels, int kernel, int width) : base(nameof(Conv1dEncoder), new EncoderContract(name, column, new[] { length }, width))
        {
            _width = width;
            conv = nn.Conv1d(1, channels, kernel, padding: kernel / 2);
            projection = nn.Linear(channels, width);
            RegisterComponents();
        }

        public override IReadOnlyList<int> StageWidths => new[] { _width };
        public override int TokenWidth => _width;
        public override int TokenCount => 1;
        public override Tensor[] ForwardStages(Tensor x)
            => new[] { nn.functional.relu(projection.call(nn.functional.relu(conv.call(x.unsqueeze(1))).mean(new long[] { 2 }))) };
        public override Tensor Tokens(Tensor x) => forward(x).unsqueeze(1);
    }

    static ModalityKindPluginTests()
    {
        ModalityRegistry.Register(new TimeSeriesKind());
        ModalityRegistry.Register(new Conv1dEncoderKind());
    }

    private sealed class Row
    {
        public uint Label { get; set; }
        [VectorType(64)] public float[] Series { get; set; } = Array.Empty<float>();
        [VectorType(3)] public float[] Tab { get; set; } = Array.Empty<float>();
    }

    /// <summary>The class is the series' frequency (slow or fast, in noise at a random phase); the tabular column is noise.</summary>
    private static List<Row> Rows(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            int y = r.Next(2);
            double f = y == 0 ? 0.08 : 0.35, phase = r.NextDouble() * 6.28;
            return new Row
            {
                Label = (uint)y + 1,
                Series = Enumerable.Range(0, 64).Select(t => (float)(Math.Sin(f * t + phase) + 0.5 * (r.NextDouble() - 0.5))).ToArray(),
                Tab = new[] { (float)r.NextDouble(), (float)r.NextDouble(), (float)r.NextDouble() },
            };
        }).ToList();
    }

    [Fact]
    public void ARegisteredKindTrainsSavesAndLoadsWithItsOwnEncoder()
    {
        var ml = new MLContext(seed: 1);
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Rows(400, 1)));
        var train = toKey.Transform(ml.Data.LoadFromEnumerable(Rows(400, 1)));
        var test = toKey.Transform(ml.Data.LoadFromEnumerable(Rows(200, 2)));
        var series = new ModalityOptions { Name = "series", ColumnName = "Series", Kind = TimeSeriesKind.Name, EncoderOptions = new Conv1dEncoderOptions { Channels = 6, KernelSize = 7 } };
        var options = new NetworkFusionOptions { Modalities = new() { series, ModalityOptions.Tabular("Tab", "tab", 8) }, Epochs = 30, AugmentationStrength = 1 };
        using var model = ml.MulticlassClassification.Trainers.NetworkFusion(options).Fit(train);
        Assert.Contains(model.Network.modules(), m => m is Conv1d { in_channels: 1, out_channels: 6 } c && c.kernel_size[0] == 7);   // its own settings
        var scored = model.Transform(test);
        double accuracy = ml.MulticlassClassification.Evaluate(scored).MicroAccuracy;
        Assert.True(accuracy > 0.8, $"accuracy {accuracy:P1} (chance 50%)");
        // Its encoder has no ONNX export, so the model serves with TorchSharp and says why; requiring ONNX Runtime is an exact error.
        Assert.Equal(FusionServingEngine.TorchSharp, model.EngineInUse);
        Assert.StartsWith("TorchSharp: its ONNX export does not cover it (", model.EngineNote);
        model.Engine = FusionServingEngine.OnnxRuntime;
        var required = Assert.Throws<NotSupportedException>(() => model.Transform(test).Preview(1));
        Assert.StartsWith("This network model cannot be served by ONNX Runtime: its ONNX export does not cover it (", required.Message);
        model.Engine = null;

        var path = Path.Combine(TestData.TempFolder("plugin-kind"), "series.zip");
        ml.Model.SaveFusionModel(model, train.Schema, path);
        var loaded = ml.Model.LoadFusionModel(path, out _);
        Assert.Equal(Columns.Vectors(scored, "Score"), Columns.Vectors(loaded.Transform(test), "Score"));
        (loaded as IDisposable)?.Dispose();

        // Its settings were saved by the encoder's name and read back as its own options type: the loaded network was rebuilt from them.
        Assert.Contains(Assert.IsType<FusionPredictionTransformer>(loaded).Network.modules(), m => m is Conv1d { in_channels: 1, out_channels: 6 } c && c.kernel_size[0] == 7);

        // The kind's own checks run where every modality's do.
        var wide = series.Clone();
        wide.EncoderOptionsAs<Conv1dEncoderOptions>().OutputWidth = 300;
        Assert.Equal("Modality 'series': a Conv1d encoder has at most 256 outputs. (Parameter 'OutputWidth')", Assert.Throws<ArgumentException>(wide.Validate).Message);
        Assert.Equal(16, series.EncoderOptionsAs<Conv1dEncoderOptions>().OutputWidth);   // a clone's settings are its own
        Assert.Equal(0.05, ModalityAugmentation.For(TimeSeriesKind.Name, 1).Noise, 9);
    }

    /// <summary>Writes <paramref name="rows"/> as a CSV: Label (slow or fast), Series (64 numbers), Noise (a number).</summary>
    private static string WriteCsv(string folder, string name, List<Row> rows)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllLines(path, rows.Select(r => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{(r.Label == 1 ? "slow" : "fast")},{string.Join(' ', r.Series.Select(x => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))},{r.Tab[0]:F4}")).Prepend("Label,Series,Noise"));
        return path;
    }

    [Fact]
    public void ColumnInferenceRecognisesARegisteredKindAndItsFeaturizerTrainsSavesAndLoads()
    {
        var folder = TestData.TempFolder("plugin-kind-csv");
        string trainCsv = WriteCsv(folder, "train.csv", Rows(400, 3)), testCsv = WriteCsv(folder, "test.csv", Rows(200, 4));
        var ml = new MLContext(seed: 1);
        ml.ComponentCatalog.RegisterAssembly(typeof(SeriesParser).Assembly);   // the CustomMapping's factory, to load the saved featurizer

        var columns = ml.Fusion().InferColumns(trainCsv, "Label");
        Assert.Equal(ColumnRole.Modality, columns["Series"].Role);
        Assert.Equal(TimeSeriesKind.Name, columns["Series"].Kind);
        Assert.Equal("64 numbers per row", columns["Series"].Reason);
        Assert.Equal("TimeSeries", columns["Series"].RoleName);
        Assert.Equal(ColumnRole.Numeric, columns["Noise"].Role);

        var featurization = columns.CreateFeaturizer(ml);
        Assert.Equal(new[] { "Series.TimeSeries", "Tabular" }, featurization.ModalityColumns);
        var series = featurization.Modalities[0];
        Assert.Equal((TimeSeriesKind.Name, Conv1dEncoderKind.Name), (series.Kind, series.Encoder));
        // Its tuning joins a sweep over this data, and a trial's value reaches the trainer's copy of the modality.
        var space = new MLNetFusion.AutoML.Sweep.FusionSearchSpace().ForModalities(featurization.Modalities);
        Assert.Equal(5, space.DefaultsOf(MLNetFusion.Trainers.FusionFamily.Network)["seriesKernelSize"]);
        var trial = new MLNetFusion.AutoML.Sweep.FusionTrialSettings(1, MLNetFusion.Trainers.FusionFamily.Network, new Dictionary<string, object> { ["seriesKernelSize"] = 9 });
        var context = CandidateContext.For(ml, featurization) with { Space = space };
        var tuned = context.Neural(new NetworkFusionOptions { Modalities = context.NetworkModalitiesOf(trial) }, trial).Modalities[0];
        Assert.Equal((9, 5), (tuned.EncoderOptionsAs<Conv1dEncoderOptions>().KernelSize, series.EncoderOptionsAs<Conv1dEncoderOptions>().KernelSize));

        var train = columns.Load(ml);
        var labelToKey = featurization.LabelToKey.Fit(train);
        var trainer = ml.MulticlassClassification.Trainers.NetworkFusion(new NetworkFusionOptions { Modalities = featurization.Modalities.ToList(), Epochs = 30, AugmentationStrength = 1 });
        var model = featurization.Featurizer.Append(trainer).Fit(labelToKey.Transform(train));
        var test = labelToKey.Transform(columns.Load(ml, testCsv));
        var scored = model.Transform(test);
        double accuracy = ml.MulticlassClassification.Evaluate(scored).MicroAccuracy;
        Assert.True(accuracy > 0.8, $"accuracy {accuracy:P1} (chance 50%)");

        // One model file: the kind's featurizer (ML.NET's format inside it), its encoder and the fusion network.
        var path = Path.Combine(folder, "series.zip");
        ml.Model.SaveFusionModel(model, train.Schema, path);
        var loaded = ml.Model.LoadFusionModel(path, out _);
        Assert.Equal(Columns.Vectors(scored, "Score"), Columns.Vectors(loaded.Transform(test), "Score"));
        (loaded as IDisposable)?.Dispose();
        (model.LastTransformer as IDisposable)?.Dispose();

        // Given by the user, a kind wins over inference; a kind without column inference, or the bare role, is an error naming the column.
        var given = ml.Fusion().InferColumns(trainCsv, "Label", options: new ColumnInferenceOptions { Kinds = { ["Series"] = TimeSeriesKind.Name } });
        Assert.Equal("given by you: TimeSeries", given["Series"].Reason);
        var noInference = Assert.Throws<ArgumentException>(() => ml.Fusion().InferColumns(trainCsv, "Label", options: new ColumnInferenceOptions { Kinds = { ["Series"] = ModalityKind.Tabular } }));
        Assert.StartsWith("Column 'Series' is given the modality kind 'Tabular', which has no column inference.", noInference.Message);
        var bare = Assert.Throws<ArgumentException>(() => ml.Fusion().InferColumns(trainCsv, "Label", options: new ColumnInferenceOptions { Roles = { ["Series"] = ColumnRole.Modality } }));
        Assert.StartsWith("Column 'Series' is given the role Modality without a kind.", bare.Message);
    }

    [Fact]
    public void AnUnregisteredKindOrEncoderIsAClearError()
    {
        var unknown = new ModalityOptions { Name = "clip", ColumnName = "Clip", Encoder = new EncoderKind("Wav2Vec") };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(unknown.Validate);
        Assert.StartsWith("Modality 'clip': encoder 'Wav2Vec' is not registered." + Environment.NewLine + "Hint: register it with ModalityRegistry.Register", ex.Message);
        var kind = new ModalityOptions { Name = "clip", ColumnName = "Clip", Kind = new ModalityKind("Video") };
        Assert.StartsWith("Modality 'clip': modality kind 'Video' is not registered.", Assert.Throws<ArgumentOutOfRangeException>(kind.Validate).Message);
        // Another kind under a built-in name would change what existing model files build.
        Assert.Throws<InvalidOperationException>(() => ModalityRegistry.Register(new TimeSeriesKindNamedImage()));
    }

    private sealed class TimeSeriesKindNamedImage : IModalityKind
    {
        public ModalityKind Kind => ModalityKind.Image;
        public EncoderKind DefaultEncoder => EncoderKind.Cnn;
        public ModalityAugmentation DefaultAugmentation(double strength) => new();
        public bool NeuralLateFusionMember => true;
    }
}
