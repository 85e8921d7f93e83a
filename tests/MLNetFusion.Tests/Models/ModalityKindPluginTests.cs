using Microsoft.ML;
using Microsoft.ML.Data;
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
    }

    internal sealed class Conv1dEncoderKind : IEncoderKind
    {
        public static readonly EncoderKind Name = new("Conv1d");
        public EncoderKind Kind => Name;
        public ModalityEncoder Create(ModalityOptions o, int[] shape, FeatureStatistics stats) => new Conv1dEncoder(o.Name, o.ColumnName, shape[0], o.OutputWidth);
        public double MinimumParameters(ModalityOptions o, int[] shape, int size) => 8.0 * o.OutputWidth;   // the projection from 8 channels
        public void Validate(ModalityOptions o)
        {
            if (o.OutputWidth > 256) throw new ArgumentException($"Modality '{o.Name}': a Conv1d encoder has at most 256 outputs.", nameof(o.OutputWidth));
        }
    }

    /// <summary>Conv1d(1 → 8, kernel 5) → ReLU → mean over time → Linear → ReLU.</summary>
    internal sealed class Conv1dEncoder : ModalityEncoder
    {
        private readonly Conv1d conv;
        private readonly Linear projection;
        private readonly int _width;

        public Conv1dEncoder(string name, string column, int length, int width) : base(nameof(Conv1dEncoder), new EncoderContract(name, column, new[] { length }, width))
        {
            _width = width;
            conv = nn.Conv1d(1, 8, 5, padding: 2);
            projection = nn.Linear(8, width);
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
        var series = new ModalityOptions { Name = "series", ColumnName = "Series", Kind = TimeSeriesKind.Name, Encoder = Conv1dEncoderKind.Name, OutputWidth = 16 };
        var options = new NetworkFusionOptions { Modalities = new() { series, ModalityOptions.Tabular("Tab", "tab", 8) }, Epochs = 30, AugmentationStrength = 1 };
        using var model = ml.MulticlassClassification.Trainers.NetworkFusion(options).Fit(train);
        Assert.Contains(model.Network.modules(), m => m is Conv1dEncoder);
        var scored = model.Transform(test);
        double accuracy = ml.MulticlassClassification.Evaluate(scored).MicroAccuracy;
        Assert.True(accuracy > 0.8, $"accuracy {accuracy:P1} (chance 50%)");

        var path = Path.Combine(TestData.TempFolder("plugin-kind"), "series.zip");
        ml.Model.SaveFusionModel(model, train.Schema, path);
        var loaded = ml.Model.LoadFusionModel(path, out _);
        Assert.Equal(Columns.Vectors(scored, "Score"), Columns.Vectors(loaded.Transform(test), "Score"));
        (loaded as IDisposable)?.Dispose();

        // The kind's own checks run where every modality's do.
        var wide = series.Clone();
        wide.OutputWidth = 300;
        Assert.Equal("Modality 'series': a Conv1d encoder has at most 256 outputs. (Parameter 'OutputWidth')", Assert.Throws<ArgumentException>(wide.Validate).Message);
        Assert.Equal(0.05, ModalityAugmentation.For(TimeSeriesKind.Name, 1).Noise, 9);
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
