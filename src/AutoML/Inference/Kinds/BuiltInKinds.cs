using MLNetFusion.Models;

namespace MLNetFusion.AutoML;

/// <summary>Gives the built-in image and audio kinds their column inference when this assembly loads.</summary>
internal static class BuiltInKindsColumnInference
{
#pragma warning disable CA2255 // A library module initializer is intended: it only gives two built-in kinds their column inference.
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        BuiltInColumnInference.Set(ModalityKind.Image, new ImageColumnInference());
        BuiltInColumnInference.Set(ModalityKind.Audio, new AudioColumnInference());
    }
}
