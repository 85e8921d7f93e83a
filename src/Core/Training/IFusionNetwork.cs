using MLNetFusion.Data;
using static TorchSharp.torch;

namespace MLNetFusion.Training;

/// <summary>The result of a network's forward pass. The loss is computed from it by the training (<see cref="FusionLoss"/>).</summary>
/// <param name="Logits">Class logits, <c>[B, classes]</c>.</param>
/// <param name="Embedding">The fused embedding, <c>[B, width]</c>.</param>
/// <param name="ModalityLogits">Per modality, the logits of its auxiliary head on that modality's own embedding
/// (<c>[B, classes]</c>), in training mode when the network has auxiliary heads; otherwise <c>null</c>.</param>
public sealed record FusionOutput(Tensor Logits, Tensor Embedding, Tensor[]? ModalityLogits = null);

/// <summary>
/// What the shared <see cref="TrainingLoop"/> and the fitted transformers need from a network.
/// </summary>
public interface IFusionNetwork
{
    /// <summary>The module whose parameters are trained.</summary>
    nn.Module Module { get; }

    /// <summary>Width of <see cref="FusionOutput.Embedding"/>.</summary>
    int EmbeddingWidth { get; }

    /// <summary>Number of classes.</summary>
    int ClassCount { get; }

    /// <summary>Runs the network on a batch.</summary>
    FusionOutput Forward(FusionBatch batch);

    /// <summary>
    /// Sub-modules trained at a multiple of the learning rate (each gets its own AdamW parameter group under the same
    /// schedule; 0 freezes it); the rest of <see cref="Module"/> trains at 1×. Default: none.
    /// </summary>
    IEnumerable<(nn.Module module, double multiplier)> ScaledModules() => Array.Empty<(nn.Module, double)>();
}
