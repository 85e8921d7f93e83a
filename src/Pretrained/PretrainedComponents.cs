using Microsoft.ML;
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
    internal static void Register()
    {
        ComponentRegistry.Register(SentenceEmbeddingTransformer.Kind, SentenceEmbeddingTransformer.Load);
        Models.PretrainedFeaturizers.RegisterText(new SentenceTextFeaturizer());
    }
}

/// <summary>The sentence encoder as the text featurizer column inference and the leaderboard use (<see cref="Models.PretrainedFeaturizers"/>).</summary>
internal sealed class SentenceTextFeaturizer : Models.IPretrainedTextFeaturizer
{
    private readonly SentenceModelSource _source = SentenceModelSource.For(SentenceEncoderModel.MiniLM);

    public string Name => $"{_source.DisplayName} sentence embeddings";

    public int Width => _source.Width;

    public Microsoft.ML.IEstimator<Microsoft.ML.ITransformer> Create(Microsoft.ML.MLContext ml, string outputColumnName, string inputColumnName)
        => ml.Transforms.EmbedSentences(new SentenceEmbeddingOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Model = _source.Model });
}
