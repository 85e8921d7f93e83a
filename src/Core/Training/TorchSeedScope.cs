using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Training;

/// <summary>
/// Seeds torch's global generator for the duration of a <c>Fit</c> (weight initialisation, dropout, modality dropout)
/// and restores the previous generator state afterwards, so training is reproducible without leaving the process's
/// global RNG changed. Mappers never use it: inference is deterministic and draws no random numbers.
/// </summary>
internal sealed class TorchSeedScope : IDisposable
{
    private readonly Tensor _saved;

    /// <summary>Saves the global generator state and seeds it with <paramref name="seed"/>.</summary>
    public TorchSeedScope(int seed)
    {
        Runtime.TorchRuntime.EnsureInitialized();
        _saved = torch.random.get_rng_state();
        torch.random.manual_seed(seed);
    }

    /// <summary>Restores the saved state.</summary>
    public void Dispose()
    {
        torch.random.set_rng_state(_saved);
        _saved.Dispose();
    }
}
