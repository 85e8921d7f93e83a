using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Onnx;
using MLNetFusion.Persistence;
using MLNetFusion.Training;

namespace MLNetFusion.Trainers.Featurizers;

/// <summary>
/// A fitted trainable modality featurizer (<c>mlContext.Transforms.FeaturizeImage/FeaturizeAudio/FeaturizeTabular/FeaturizeModality</c>):
/// it appends one column, the encoder's embedding of the modality column, and predicts nothing.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>The modality's <c>Vector&lt;Single&gt;</c> column it was fitted on (<see cref="Encoder"/>).</description></item>
/// <item><term>Output</term><description><see cref="OutputColumnName"/>: <c>Vector&lt;Single, <see cref="EmbeddingWidth"/>&gt;</c>.</description></item>
/// <item><term>Persistence</term><description><c>mlContext.Model.SaveFusionModel</c>; a saved featurizer loads back as this type.</description></item>
/// <item><term>Ownership</term><description>Holds native TorchSharp memory: dispose it (or the loaded model) when done.</description></item>
/// </list>
/// </remarks>
public sealed class ModalityFeaturizerTransformer : ITransformer, IDisposable, IFusionSaveable, IOnnxExportable
{
    private readonly FusionPredictionTransformer _network;

    internal ModalityFeaturizerTransformer(FusionPredictionTransformer network)
    {
        if (network.Outputs is not { Score: null, PredictedLabel: null, Embedding: not null } || network.Layout.Columns.Count != 1)
            throw new ArgumentException("A modality featurizer is a one-modality network whose only output is its embedding.", nameof(network));
        _network = network;
    }

    /// <summary>
    /// Whether a saved network is a featurizer's: one modality and the embedding as its only output. A model file holds a
    /// featurizer as its network, so the loader gives it back as a featurizer from this shape.
    /// </summary>
    internal static bool IsFeaturizer(FusionPredictionTransformer network)
        => network.Outputs is { Score: null, PredictedLabel: null, Embedding: not null, ModalitiesUsed: null } && network.Layout.Columns.Count == 1;

    /// <summary>The embedding column it appends.</summary>
    public string OutputColumnName => _network.Outputs.Embedding!;

    /// <summary>The embedding's width.</summary>
    public int EmbeddingWidth => _network.Network.EmbeddingWidth;

    /// <summary>The encoder: its modality name, input column, per-row shape and output width.</summary>
    public EncoderContract Encoder => _network.Encoders[0];

    /// <summary>What fitting did (per-epoch history of the auxiliary classification head), or <c>null</c> for a loaded featurizer.</summary>
    public TrainingSummary? Summary => _network.Summary;

    /// <summary>
    /// What <c>Transform</c> does with a row whose modality holds NaN or infinite values other than an entirely NaN
    /// vector (see <see cref="FusionPredictionTransformer.NonFiniteInputs"/>).
    /// </summary>
    public NonFiniteInputHandling NonFiniteInputs { get => _network.NonFiniteInputs; set => _network.NonFiniteInputs = value; }

    /// <summary>Moves the encoder to a TorchSharp device ("cpu", "cuda", "cuda:1").</summary>
    public ModalityFeaturizerTransformer ToDevice(string device)
    {
        _network.ToDevice(device);
        return this;
    }

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _network.GetOutputSchema(inputSchema);

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => _network.GetRowToRowMapper(inputSchema);

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => _network.Transform(input);

    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_network).Save(ctx);

    // The file holds the network itself (as before this type existed), so featurizers saved by older versions load as this type too.
    string IFusionSaveable.ComponentKind => ((IFusionSaveable)_network).ComponentKind;

    void IFusionSaveable.Save(ComponentWriter writer) => ((IFusionSaveable)_network).Save(writer);

    void IOnnxExportable.ExportOnnx(OnnxExportContext context) => ((IOnnxExportable)_network).ExportOnnx(context);

    /// <inheritdoc />
    public void Dispose() => _network.Dispose();
}
