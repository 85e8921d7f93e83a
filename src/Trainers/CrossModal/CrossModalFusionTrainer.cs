using Microsoft.ML.Runtime;
using MLNetFusion.Models;

namespace MLNetFusion.Trainers.CrossModal;

/// <summary>Options for <see cref="CrossModalFusionTrainer"/>.</summary>
public sealed class CrossModalFusionOptions : FusionTrainerOptions
{
    /// <summary>Default values, reused by the catalog signatures.</summary>
    public static new class Defaults
    {
        /// <summary>Token width.</summary>
        public const int Width = 64;
        /// <summary>Attention heads.</summary>
        public const int Heads = 4;
        /// <summary>Cross-modal exchanges.</summary>
        public const int Depth = 1;
        /// <summary>BatchNorm after every convolution of the CNN encoders.</summary>
        public const bool ConvBatchNorm = true;
        /// <summary>Dropout inside the attention blocks.</summary>
        public const double AttentionDropout = 0.1;
    }

    /// <summary>Token width. Default 64.</summary>
    public int Width { get; set; } = Defaults.Width;

    /// <summary>Attention heads. Default 4.</summary>
    public int Heads { get; set; } = Defaults.Heads;

    /// <summary>Number of cross-modal exchanges: 1 for a single exchange, more to exchange at several depths. Default 1.</summary>
    public int Depth { get; set; } = Defaults.Depth;

    /// <summary>
    /// Force BatchNorm after every convolution of the CNN encoders, whatever <see cref="CnnEncoderOptions.BatchNorm"/> says.
    /// Default true: without it, cross-attention training was far more sensitive to the initialisation (its test
    /// accuracy across seeds on the generated dataset spread several times wider).
    /// </summary>
    public bool ConvBatchNorm { get; set; } = Defaults.ConvBatchNorm;

    /// <summary>Dropout inside the attention blocks. Default 0.1.</summary>
    public double AttentionDropout { get; set; } = Defaults.AttentionDropout;

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Check.Positive(Width, MaxWidth);
        Check.Positive(Heads, MaxHeads);
        if (Width % Heads != 0) throw new ArgumentOutOfRangeException(nameof(Heads), Heads, $"Heads must divide Width ({Width}).");
        Check.InRange(Depth, 1, MaxDepth);
        Check.Fraction(AttentionDropout, name: nameof(AttentionDropout));
    }
}

/// <summary>
/// Cross-modal fusion: modalities exchange context through cross-attention over per-modality tokens, once or at several
/// depths. Reach it with <c>mlContext.MulticlassClassification.Trainers.CrossModalFusion(...)</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>A key label and one <c>Vector&lt;Single&gt;</c> column per modality.</description></item>
/// <item><term>Output</term><description><c>Score</c>, <c>PredictedLabel</c> (see <see cref="FusionPredictionTransformer"/>).</description></item>
/// <item><term>Normalization</term><description>Not needed: encoders standardise their inputs with fitted statistics.</description></item>
/// <item><term>Package</term><description>MLNetFusion.Trainers; the app references TorchSharp-cpu.</description></item>
/// </list>
/// </remarks>
public sealed class CrossModalFusionTrainer : FusionTrainerBase<CrossModalFusionOptions>
{
    /// <summary>Creates the trainer.</summary>
    public CrossModalFusionTrainer(IHostEnvironment env, CrossModalFusionOptions options) : base(env, options, FusionFamily.CrossModal) { }

    /// <summary>Registers the cross-modal network's model-file loader (earlier files wrote <c>crossmodal</c>).</summary>
    internal static void Register() => Persistence.TrainerComponents.RegisterNetwork<CrossModalFusionOptions, CrossModalLayers>("cross-modal", FusionFamily.CrossModal,
        (env, o) => new CrossModalFusionTrainer(env, o), "crossmodal");

    /// <inheritdoc />
    protected override ModalityOptions PrepareModality(ModalityOptions modality)
    {
        if (Options.ConvBatchNorm && modality.EncoderOptions is CnnEncoderOptions cnn) cnn.BatchNorm = true;
        return modality;
    }

    /// <inheritdoc />
    private protected override FusionLayers Layers() => new CrossModalLayers(Options);

    /// <inheritdoc />
    protected override FusionNetwork CreateNetwork(IReadOnlyList<ModalityEncoder> encoders, int classCount)
        => new CrossModalFusionNetwork(encoders, classCount, Options.Width, Options.Heads, Options.Depth, Options.AttentionDropout,
            Options.HeadHiddenWidths, Options.HeadDropout, Options.ModalityDropout, Options.AuxiliaryLossWeight);
}

/// <summary>Cross-modal fusion's layers as a model file records them (its encoders' BatchNorm is recorded in their modalities).</summary>
internal sealed record CrossModalLayers : FusionLayers
{
    public CrossModalLayers() { }
    public CrossModalLayers(CrossModalFusionOptions o) : base(o) { Width = o.Width; Heads = o.Heads; Depth = o.Depth; AttentionDropout = o.AttentionDropout; }
    public int Width { get; init; }
    public int Heads { get; init; }
    public int Depth { get; init; }
    public double AttentionDropout { get; init; }

    protected override void ApplyFamily(FusionTrainerOptions options, List<ModalityOptions> modalities)
    {
        var o = (CrossModalFusionOptions)options;
        o.Modalities = modalities; o.Width = Width; o.Heads = Heads; o.Depth = Depth; o.AttentionDropout = AttentionDropout;
        o.ConvBatchNorm = false;   // the recorded encoders say whether they have BatchNorm
    }
}
