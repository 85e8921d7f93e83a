using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using MLNetFusion.Trainers;

namespace MLNetFusion.Onnx;

/// <summary>
/// A fusion network compiled to ONNX in memory and run by ONNX Runtime: what <see cref="FusionPredictionTransformer"/>
/// serves with by default (<see cref="FusionServingEngine.Auto"/>). Its graph is the network's own export (the same one
/// <c>ExportFusionToOnnx</c> writes), from the modality columns to the probabilities and the embedding.
/// </summary>
internal sealed class OnnxNetworkSession : INetworkSession
{
#pragma warning disable CA2255 // A library module initializer is intended: it only registers how fusion networks compile for ONNX Runtime.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => NetworkSessions.Factory = Create;

    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly long[] _sizes;
    private readonly string? _probabilities, _embedding;
    private readonly string[] _scoresOnly, _withEmbedding;
    private readonly int _classes, _width;
    private readonly RunOptions _run = new();

    private OnnxNetworkSession(byte[] model, FusionOnnxExport export, FusionPredictionTransformer network, int threads)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        _session = new InferenceSession(model, options);
        // The graph's inputs in the network's modality order.
        var inputs = network.Layout.Columns.Select(c => export.Inputs.Single(i => i.Column == c)).ToArray();
        _inputNames = inputs.Select(i => i.Name).ToArray();
        _sizes = inputs.Select(i => i.Size).ToArray();
        _probabilities = network.Outputs.Score is { } score ? export.Outputs.Single(o => o.Column == score).Name : null;
        _embedding = network.Outputs.Embedding is { } embedding ? export.Outputs.Single(o => o.Column == embedding).Name : null;
        // The outputs asked for, built once (a PredictionEngine runs one row per call).
        _scoresOnly = _probabilities != null ? new[] { _probabilities } : Array.Empty<string>();
        _withEmbedding = _scoresOnly.Concat(_embedding != null ? new[] { _embedding } : Array.Empty<string>()).ToArray();
        _classes = network.Labels.Count;
        _width = network.Network.EmbeddingWidth;
    }

    /// <summary>Compiles <paramref name="network"/>; a network the export does not cover throws <see cref="NotSupportedException"/> saying why.</summary>
    private static INetworkSession Create(FusionPredictionTransformer network, int threads)
    {
        var schema = new DataViewSchema.Builder();
        for (int i = 0; i < network.Layout.Columns.Count; i++)
            schema.AddColumn(network.Layout.Columns[i], new VectorDataViewType(NumberDataViewType.Single, network.Layout.Sizes[i]));
        using var buffer = new MemoryStream();
        var export = new FusionOnnxExporter(new FusionOnnxExportOptions { RequireWholeChain = true }).Export(network, schema.ToSchema(), buffer);
        return new OnnxNetworkSession(buffer.ToArray(), export, network, threads);
    }

    public void Run(float[][] inputs, int count, bool wantEmbedding, ref float[] probabilities, ref float[] embedding)
    {
        var values = new OrtValue[_inputNames.Length];
        try
        {
            for (int i = 0; i < values.Length; i++)
                values[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputs[i].AsMemory(0, checked((int)(count * _sizes[i]))), new long[] { count, _sizes[i] });
            using var results = _session.Run(_run, _inputNames, values, wantEmbedding ? _withEmbedding : _scoresOnly);
            int k = 0;
            if (_probabilities != null) CopyOut(results[k++], count * _classes, ref probabilities);
            if (wantEmbedding && _embedding != null) CopyOut(results[k], count * _width, ref embedding);
        }
        finally
        {
            foreach (var v in values) v?.Dispose();
        }
    }

    private static void CopyOut(OrtValue value, int n, ref float[] buffer)
    {
        if (buffer.Length < n) buffer = new float[n];
        value.GetTensorDataAsSpan<float>()[..n].CopyTo(buffer);
    }

    public void Dispose()
    {
        _run.Dispose();
        _session.Dispose();
    }
}
