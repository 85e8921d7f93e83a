using Microsoft.ML.Runtime;
using MLNetFusion.Models;

namespace MLNetFusion.Trainers.Merge;

/// <summary>Options for <see cref="MergeFusionTrainer"/>.</summary>
public sealed class MergeFusionOptions : FusionTrainerOptions
{
    /// <summary>Default values, reused by the catalog signatures.</summary>
    public static new class Defaults
    {
        /// <summary>How embeddings are combined.</summary>
        public const MergeOperation Operation = MergeOperation.Attention;
        /// <summary>Common width every encoder is projected to.</summary>
        public const int Width = 64;
        /// <summary>Rank of the low-rank tensor fusion.</summary>
        public const int Rank = 4;
    }

    /// <summary>How embeddings are combined. Default <see cref="MergeOperation.Attention"/>.</summary>
    public MergeOperation Operation { get; set; } = Defaults.Operation;

    /// <summary>Common width every encoder is projected to. Default 64.</summary>
    public int Width { get; set; } = Defaults.Width;

    /// <summary>Rank of <see cref="MergeOperation.LowRankTensor"/>. Default 4.</summary>
    public int Rank { get; set; } = Defaults.Rank;

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        if (!Enum.IsDefined(Operation)) throw new ArgumentOutOfRangeException(nameof(Operation), Operation, "Unknown merge operation." + Environment.NewLine + $"Hint: use one of {string.Join(", ", Enum.GetNames<MergeOperation>())}.");
        Check.Positive(Width, MaxWidth);
        Check.Positive(Rank, MaxRank);
    }
}

/// <summary>
/// Merge fusion: per-modality embeddings projected to one width and combined by sum, mean, product, max, gated sum,
/// attention or low-rank tensor fusion. Reach it with <c>mlContext.MulticlassClassification.Trainers.MergeFusion(...)</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>A key label and one <c>Vector&lt;Single&gt;</c> column per modality.</description></item>
/// <item><term>Output</term><description><c>Score</c>, <c>PredictedLabel</c> (see <see cref="FusionPredictionTransformer"/>).</description></item>
/// <item><term>Normalization</term><description>Not needed: encoders standardise their inputs with fitted statistics.</description></item>
/// <item><term>Package</term><description>MLNetFusion.Trainers; the app references TorchSharp-cpu.</description></item>
/// </list>
/// </remarks>
public sealed class MergeFusionTrainer : FusionTrainerBase<MergeFusionOptions>
{
    /// <summary>Creates the trainer.</summary>
    public MergeFusionTrainer(IHostEnvironment env, MergeFusionOptions options) : base(env, options, FusionFamily.Merge) { }

    /// <summary>Registers the merge network's model-file loader.</summary>
    internal static void Register() => Persistence.TrainerComponents.RegisterNetwork<MergeFusionOptions, MergeLayers>("merge", FusionFamily.Merge, (env, o) => new MergeFusionTrainer(env, o));

    /// <inheritdoc />
    private protected override FusionLayers Layers() => new MergeLayers(Options);

    /// <inheritdoc />
    protected override FusionNetwork CreateNetwork(IReadOnlyList<ModalityEncoder> encoders, int classCount)
        => new MergeFusionNetwork(encoders, classCount, Options.Operation, Options.Width, Options.Rank, Options.HeadHiddenWidths,
            Options.HeadDropout, Options.ModalityDropout, Options.AuxiliaryLossWeight);
}

/// <summary>Merge fusion's layers as a model file records them.</summary>
internal sealed record MergeLayers : FusionLayers
{
    public MergeLayers() { }
    public MergeLayers(MergeFusionOptions o) : base(o) { Operation = o.Operation; Width = o.Width; Rank = o.Rank; }
    public MergeOperation Operation { get; init; }
    public int Width { get; init; }
    public int Rank { get; init; }

    protected override void ApplyFamily(FusionTrainerOptions options, List<ModalityOptions> modalities)
    {
        var o = (MergeFusionOptions)options;
        o.Modalities = modalities; o.Operation = Operation; o.Width = Width; o.Rank = Rank;
    }
}
