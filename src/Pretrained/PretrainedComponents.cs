using System.Runtime.CompilerServices;
using MLNetFusion.Persistence;
using MLNetFusion.Pretrained.Text;

namespace MLNetFusion.Pretrained;

/// <summary>Registers the pretrained encoders' components with the fusion model file's allow-list.</summary>
internal static class PretrainedComponents
{
#pragma warning disable CA2255 // A library module initializer is intended: it only fills the allow-list of loaders.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => ComponentRegistry.Register(SentenceEmbeddingTransformer.Kind, SentenceEmbeddingTransformer.Load);
}
