using Microsoft.ML.Runtime;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Network;

namespace MLNetFusion.Trainers.Early;

/// <summary>Options for <see cref="FusionMlpTrainer"/>.</summary>
public sealed class FusionMlpOptions : FusionTrainerOptions
{
    /// <summary>Default values (the catalog methods use the same).</summary>
    public static new class Defaults
    {
        /// <summary>The concatenated feature column.</summary>
        public const string FeatureColumnName = "Features";
        /// <summary>Hidden layer widths (a fresh array each time: defaults are never shared).</summary>
        public static int[] HiddenWidths => new[] { 128, 64 };
        /// <summary>Dropout after each hidden layer.</summary>
        public const double Dropout = 0.1;
    }

    /// <summary>The concatenated feature column. Default <c>Features</c>.</summary>
    public string FeatureColumnName { get; set; } = Defaults.FeatureColumnName;

    /// <summary>Hidden layer widths. Default [128, 64].</summary>
    public int[] HiddenWidths { get; set; } = Defaults.HiddenWidths;

    /// <summary>Dropout after each hidden layer. Default 0.1.</summary>
    public double Dropout { get; set; } = Defaults.Dropout;

    /// <summary>Dropout on the standardised input features. Default 0.</summary>
    public double InputDropout { get; set; }

    /// <summary>Creates options with the MLP defaults (no extra head layers: the MLP's last layer feeds the classes).</summary>
    public FusionMlpOptions() => HeadHiddenWidths = Array.Empty<int>();

    /// <summary>
    /// The one modality the MLP reads, made from <see cref="FeatureColumnName"/>, <see cref="HiddenWidths"/>,
    /// <see cref="Dropout"/> and <see cref="InputDropout"/> each time it is read (set those instead).
    /// </summary>
    /// <exception cref="NotSupportedException">On set.</exception>
    [System.Text.Json.Serialization.JsonIgnore]   // saved through the properties it is made from
    public override List<ModalityOptions> Modalities
    {
        get => new() { new() { Name = "features", ColumnName = FeatureColumnName, Dropout = Dropout, EncoderOptions = new MlpEncoderOptions { HiddenWidths = HiddenWidths.ToArray(), InputDropout = InputDropout } } };
        set => throw new NotSupportedException("FusionMlpOptions has one modality, made from FeatureColumnName, HiddenWidths, Dropout and InputDropout." + Environment.NewLine +
            "Hint: set those properties, or use NetworkFusionOptions for several modalities.");
    }

    /// <inheritdoc />
    /// <remarks>Checks the options and changes nothing.</remarks>
    public override void Validate()
    {
        if (HiddenWidths.Length == 0 || HiddenWidths.Any(w => w <= 0))
            throw new ArgumentOutOfRangeException(nameof(HiddenWidths), "HiddenWidths needs at least one positive width.");
        base.Validate();
    }
}

/// <summary>
/// A TorchSharp multilayer-perceptron multiclass trainer over one feature vector — the neural classifier for early
/// fusion (<c>Concatenate</c> the modality features, then this). Reach it with
/// <c>mlContext.MulticlassClassification.Trainers.FusionMlp(...)</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description><c>Label</c> (key) and <c>Features</c> (<c>Vector&lt;Single&gt;</c> of known size).</description></item>
/// <item><term>Output</term><description><c>Score</c> (class probabilities) and <c>PredictedLabel</c> (key with the label's values).</description></item>
/// <item><term>Normalization</term><description>Not needed: inputs are standardised with statistics fitted on the training data.</description></item>
/// <item><term>Training</term><description>Reads the data view in batches (one tensor per batch), AdamW with warm-up and cosine decay; deterministic for a given MLContext seed.</description></item>
/// <item><term>Package</term><description>MLNetFusion.Trainers; the app references TorchSharp-cpu.</description></item>
/// </list>
/// </remarks>
public sealed class FusionMlpTrainer : FusionTrainerBase<FusionMlpOptions>
{
    /// <summary>Creates the trainer.</summary>
    public FusionMlpTrainer(IHostEnvironment env, FusionMlpOptions options) : base(env, options, FusionFamily.Early, "mlp") { }

    /// <summary>Registers the MLP's model-file loader.</summary>
    internal static void Register() => Persistence.TrainerComponents.RegisterNetwork<FusionMlpOptions, MlpLayers>("mlp", FusionFamily.Early, (env, o) => new FusionMlpTrainer(env, o));

    /// <inheritdoc />
    private protected override FusionLayers Layers() => new MlpLayers(Options);

    /// <inheritdoc />
    protected override FusionNetwork CreateNetwork(IReadOnlyList<ModalityEncoder> encoders, int classCount)
        => new NetworkFusionNetwork(encoders, classCount, Array.Empty<int>(), 0, false, Options.HeadHiddenWidths, Options.HeadDropout, 0, 0);
}

/// <summary>The early-fusion MLP's layers as a model file records them: its one modality is its features, hidden widths and dropouts.</summary>
internal sealed record MlpLayers : FusionLayers
{
    public MlpLayers() { }
    public MlpLayers(FusionMlpOptions o) : base(o) { }

    protected override void ApplyFamily(FusionTrainerOptions options, List<ModalityOptions> modalities)
    {
        var o = (FusionMlpOptions)options;
        if (modalities.Count != 1) throw new FormatException($"the MLP records {modalities.Count} modalities, not one");
        var features = modalities[0];
        var mlp = features.EncoderOptionsAs<MlpEncoderOptions>();
        o.FeatureColumnName = features.ColumnName; o.HiddenWidths = mlp.HiddenWidths; o.InputDropout = mlp.InputDropout; o.Dropout = features.Dropout;
    }
}
