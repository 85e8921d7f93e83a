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
    private readonly string[] _scoresOnly, _withEmbedding;   // the outputs a run asks for, in this order
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

    public INetworkRunner CreateRunner() => new Runner(this);

    /// <summary>
    /// One caller's runs: the ONNX Runtime values over its input arrays and output buffers are made once and kept while the
    /// caller passes the same arrays and row count (a <c>PredictionEngine</c> always does; a cursor does for all but its
    /// last block), so a run creates nothing and ONNX Runtime writes the probabilities straight into the caller's buffer.
    /// </summary>
    private sealed class Runner : INetworkRunner
    {
        private readonly OnnxNetworkSession _owner;
        private float[][]? _inputArrays;
        private int _inputCount = -1;
        private readonly OrtValue[] _inputs;
        private float[]? _probabilityBuffer, _embeddingBuffer;
        private int _outputCount = -1;
        private bool _outputEmbedding;
        private OrtValue[] _outputs = Array.Empty<OrtValue>();

        public Runner(OnnxNetworkSession owner)
        {
            _owner = owner;
            _inputs = new OrtValue[owner._inputNames.Length];
        }

        public void Run(float[][] inputs, int count, bool wantEmbedding, ref float[] probabilities, ref float[] embedding)
        {
            var o = _owner;
            wantEmbedding &= o._embedding != null;
            if (o._probabilities == null && !wantEmbedding) return;   // a cursor that reads neither output: nothing to compute
            if (count != _inputCount || !SameArrays(inputs))
            {
                DisposeAll(_inputs);
                for (int i = 0; i < _inputs.Length; i++)
                    _inputs[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, inputs[i].AsMemory(0, checked((int)(count * o._sizes[i]))), new long[] { count, o._sizes[i] });
                _inputArrays = (float[][])inputs.Clone();
                _inputCount = count;
            }
            if (o._probabilities != null && probabilities.Length < count * o._classes) probabilities = new float[count * o._classes];
            if (wantEmbedding && embedding.Length < count * o._width) embedding = new float[count * o._width];
            if (count != _outputCount || wantEmbedding != _outputEmbedding || !ReferenceEquals(_probabilityBuffer, probabilities) || (wantEmbedding && !ReferenceEquals(_embeddingBuffer, embedding)))
            {
                DisposeAll(_outputs);
                var outputs = new List<OrtValue>();
                if (o._probabilities != null)
                    outputs.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, probabilities.AsMemory(0, count * o._classes), new long[] { count, o._classes }));
                if (wantEmbedding)
                    outputs.Add(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, embedding.AsMemory(0, count * o._width), new long[] { count, o._width }));
                _outputs = outputs.ToArray();
                (_probabilityBuffer, _embeddingBuffer, _outputCount, _outputEmbedding) = (probabilities, wantEmbedding ? embedding : null, count, wantEmbedding);
            }
            o._session.Run(o._run, o._inputNames, _inputs, wantEmbedding ? o._withEmbedding : o._scoresOnly, _outputs);
        }

        private bool SameArrays(float[][] inputs)
        {
            if (_inputArrays == null) return false;
            for (int i = 0; i < inputs.Length; i++)
                if (!ReferenceEquals(inputs[i], _inputArrays[i])) return false;
            return true;
        }

        private static void DisposeAll(OrtValue[] values)
        {
            for (int i = 0; i < values.Length; i++) { values[i]?.Dispose(); values[i] = null!; }
        }

        public void Dispose()
        {
            DisposeAll(_inputs);
            DisposeAll(_outputs);
            _inputArrays = null;
            _inputCount = _outputCount = -1;
        }
    }

    public void Dispose()
    {
        _run.Dispose();
        _session.Dispose();
    }
}
