using Microsoft.ML.Runtime;
using MLNetFusion.Models;

namespace MLNetFusion.Trainers.Network;

/// <summary>Options for <see cref="NetworkFusionTrainer"/>.</summary>
public sealed class NetworkFusionOptions : FusionTrainerOptions
{
    /// <summary>Default values, reused by the catalog signatures.</summary>
    public static new class Defaults
    {
        /// <summary>Widths of the learned merge layers (a fresh array each time: defaults are never shared).</summary>
        public static int[] FusionWidths => new[] { 128 };
        /// <summary>Dropout in the merge layers.</summary>
        public const double FusionDropout = 0.2;
    }

    /// <summary>Widths of the learned merge layers applied to the concatenated encoder layers. Default [128].</summary>
    public int[] FusionWidths { get; set; } = Defaults.FusionWidths;

    /// <summary>Dropout in the merge layers. Default 0.2.</summary>
    public double FusionDropout { get; set; } = Defaults.FusionDropout;

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        // Empty: no merge layer (the concatenated encoder layers feed the head), as the trainable featurizers use it.
        if (FusionWidths is null) throw new ArgumentNullException(nameof(FusionWidths), "FusionWidths is null." + Environment.NewLine + "Hint: FusionWidths = new[] { 128 }, or an empty array for no merge layer.");
        if (FusionWidths.Length > 16) throw new ArgumentOutOfRangeException(nameof(FusionWidths), FusionWidths.Length, "At most 16 merge layers.");
        foreach (var w in FusionWidths) Check.Positive(w, MaxWidth, nameof(FusionWidths));
        Check.Fraction(FusionDropout, name: nameof(FusionDropout));
    }

    /// <summary>
    /// Concatenate every encoder stage (pooled conv blocks, hidden layers) instead of only each encoder's final
    /// embedding — the reference design's "network merge d" against "b". Default false.
    /// </summary>
    public bool UseIntermediateLayers { get; set; }
}

/// <summary>
/// Network fusion: per-modality sub-networks whose layers are concatenated and merged by learned layers, trained end
/// to end. Reach it with <c>mlContext.MulticlassClassification.Trainers.NetworkFusion(...)</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>A key label and one <c>Vector&lt;Single&gt;</c> column per modality.</description></item>
/// <item><term>Output</term><description><c>Score</c>, <c>PredictedLabel</c> (see <see cref="FusionPredictionTransformer"/>).</description></item>
/// <item><term>Normalization</term><description>Not needed: encoders standardise their inputs with fitted statistics.</description></item>
/// <item><term>Package</term><description>MLNetFusion.Trainers; the app references TorchSharp-cpu (or a CUDA variant).</description></item>
/// </list>
/// </remarks>
public sealed class NetworkFusionTrainer : FusionTrainerBase<NetworkFusionOptions>
{
    /// <summary>Creates the trainer.</summary>
    public NetworkFusionTrainer(IHostEnvironment env, NetworkFusionOptions options) : base(env, options, FusionFamily.Network) { }

    /// <summary>Registers the network-fusion network's model-file loader.</summary>
    internal static void Register() => Persistence.TrainerComponents.RegisterNetwork<NetworkFusionOptions, NetworkLayers>("network", FusionFamily.Network, (env, o) => new NetworkFusionTrainer(env, o));

    /// <inheritdoc />
    private protected override FusionLayers Layers() => new NetworkLayers(Options);

    /// <inheritdoc />
    protected override FusionNetwork CreateNetwork(IReadOnlyList<ModalityEncoder> encoders, int classCount)
        => new NetworkFusionNetwork(encoders, classCount, Options.FusionWidths, Options.FusionDropout, Options.UseIntermediateLayers,
            Options.HeadHiddenWidths, Options.HeadDropout, Options.ModalityDropout, Options.AuxiliaryLossWeight);
}

/// <summary>Network fusion's layers as a model file records them.</summary>
internal sealed record NetworkLayers : FusionLayers
{
    public NetworkLayers() { }
    public NetworkLayers(NetworkFusionOptions o) : base(o) { FusionWidths = o.FusionWidths.ToArray(); FusionDropout = o.FusionDropout; UseIntermediateLayers = o.UseIntermediateLayers; }
    public int[] FusionWidths { get; init; } = Array.Empty<int>();
    public double FusionDropout { get; init; }
    public bool UseIntermediateLayers { get; init; }

    protected override void ApplyFamily(FusionTrainerOptions options, List<ModalityOptions> modalities)
    {
        var o = (NetworkFusionOptions)options;
        o.Modalities = modalities; o.FusionWidths = FusionWidths; o.FusionDropout = FusionDropout; o.UseIntermediateLayers = UseIntermediateLayers;
    }
}
