using MLNetFusion.Data;
using static TorchSharp.torch;

namespace MLNetFusion.Training;

/// <summary>The result of a network's forward pass.</summary>
/// <param name="Logits">Class logits, <c>[B, classes]</c>.</param>
/// <param name="Loss">Training loss (main plus auxiliary) when the batch has labels, else <c>null</c>.</param>
/// <param name="Embedding">The fused embedding, <c>[B, width]</c>.</param>
public sealed record FusionOutput(Tensor Logits, Tensor? Loss, Tensor Embedding);

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
}
