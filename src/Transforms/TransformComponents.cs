using System.Runtime.CompilerServices;
using MLNetFusion.Persistence;
using MLNetFusion.Transforms.Audio;

namespace MLNetFusion.Transforms;

/// <summary>Registers the transforms' components with the fusion model file's allow-list.</summary>
internal static class TransformComponents
{
#pragma warning disable CA2255 // A library module initializer is intended: it only fills the allow-list of loaders.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        ComponentRegistry.Register(AudioLoadingTransformer.Kind, AudioLoadingTransformer.Load);
        ComponentRegistry.Register(MelSpectrogramTransformer.Kind, MelSpectrogramTransformer.Load, MelSpectrogramTransformer.ComponentVersion);   // 2: DoublePrecision
        ComponentRegistry.Register(FrameStatisticsTransformer.Kind, FrameStatisticsTransformer.Load);
        ComponentRegistry.Register(Text.TextTokenHashingTransformer.Kind, Text.TextTokenHashingTransformer.Load);
    }
}
