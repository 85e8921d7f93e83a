using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;
using MLNetFusion.Mapping;
using MLNetFusion.Models;
using MLNetFusion.Onnx;
using MLNetFusion.Persistence;
using MLNetFusion.Runtime;
using MLNetFusion.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Trainers;

/// <summary>
/// The fitted model of every MLNetFusion TorchSharp trainer. It appends the standard multiclass columns —
/// <c>Score</c> (<c>Vector&lt;Single&gt;</c> of class probabilities) and <c>PredictedLabel</c> (a key carrying the label's
/// key values) — and optionally the fused embedding and a <c>Modalities</c> column with the share of modalities used.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>The modality columns the trainer was fitted on, each <c>Vector&lt;Single&gt;</c> of the same size. A row whose modality vector is entirely NaN is treated as missing that modality.</description></item>
/// <item><term>Output</term><description><c>Score</c>, <c>PredictedLabel</c>; <c>FusedEmbedding</c> when requested; <c>ModalitiesUsed</c> (<c>Vector&lt;Boolean&gt;</c>, one slot per modality).</description></item>
/// <item><term>Inference</term><description>Batched: <c>Transform</c> evaluates <see cref="BatchMappingTransformer.BatchSize"/> rows per tensor. It is a row-to-row mapper, so <c>PredictionEngine</c> works.</description></item>
/// <item><term>Ownership</term><description>Holds native TorchSharp memory: dispose it (or the loaded model) when done.</description></item>
/// </list>
/// </remarks>
public sealed class FusionPredictionTransformer : BatchMappingTransformer, IDisposable, IFusionSaveable, IOnnxExportable
{
    internal const string Kind = "MLNetFusion.FusionPrediction";
    private readonly FusionNetwork _network;
    private readonly object _gate = new();
    private torch.Device _device;   // where the network is: read once, not per batch (ToDevice changes it)
    private bool _disposed;

    /// <summary>Creates the transformer around a trained network.</summary>
    public FusionPredictionTransformer(FusionNetwork network, ColumnLayout layout, LabelKeyValues labels, FusionOutputColumns outputs,
        int batchSize, TrainingSummary? summary = null, FusionFamily family = FusionFamily.Network)
        : this(network, layout, labels, outputs, batchSize, summary, family, null) { }

    internal FusionPredictionTransformer(FusionNetwork network, ColumnLayout layout, LabelKeyValues labels, FusionOutputColumns outputs,
        int batchSize, TrainingSummary? summary, FusionFamily family, NetworkRecipe? recipe)
        : base(batchSize)
    {
        Recipe = recipe;
        _network = network;
        _network.eval();
        _device = FusionBatch.DeviceOf(network);
        Layout = layout with { LabelColumn = null };
        Labels = labels;
        Outputs = outputs;
        Summary = summary;
        Family = family;
    }

    /// <summary>The modality columns and sizes the model reads, in the network's order.</summary>
    public ColumnLayout Layout { get; }

    /// <summary>The classes, with the label's key values.</summary>
    public LabelKeyValues Labels { get; }

    /// <summary>Names of the output columns.</summary>
    public FusionOutputColumns Outputs { get; }

    /// <summary>What training did (per-epoch history), or <c>null</c> for a loaded model.</summary>
    public TrainingSummary? Summary { get; }

    /// <summary>The family of the trainer that fitted the network: early fusion for <c>FusionMlp</c>; network fusion for the one-modality network inside a trainable featurizer (<c>ModalityFeaturizerTransformer</c>).</summary>
    public FusionFamily Family { get; }

    /// <summary>How to rebuild the network's architecture (family options and shapes); null for hand-made networks.</summary>
    internal NetworkRecipe? Recipe { get; }

    string IFusionSaveable.ComponentKind => Kind;

    void IFusionSaveable.Save(ComponentWriter writer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Recipe == null) throw new NotSupportedException(
            $"This {Family.Name()} model was built around a hand-made network, so its architecture cannot be recorded." + Environment.NewLine +
            "Hint: models returned by MLNetFusion's trainers and featurizers can be saved; wrap custom networks in a trainer.");
        writer.WriteConfig(new FusionPredictionConfig(Recipe.ModelKey, null, Recipe.Shapes, Layout.Columns.ToArray(), Layout.Sizes.ToArray(),
            Labels.ToData(), Outputs, BatchSize, _network.DisabledModalities?.ToArray(), NonFiniteInputs, _network.ModalityHeadWeight, Recipe.ArchitectureJson));
        writer.WriteModule("weights", _network);
    }

    /// <summary>The trained network (a TorchSharp module).</summary>
    public FusionNetwork Network => _network;

    /// <summary>
    /// The modalities that modality selection switched off (<see cref="FusionTrainerOptions.SelectModalities"/>): the
    /// model treats them as missing in every row that has another modality. Empty when every modality is used.
    /// </summary>
    public IReadOnlyList<string> UnusedModalities => _network.DisabledModalities is { } d
        ? Encoders.Where((_, i) => d[i]).Select(e => e.Name).ToArray() : Array.Empty<string>();

    /// <summary>
    /// What <c>Transform</c> does with a row whose present modality holds NaN or infinite values (other than an entirely
    /// NaN vector, which is a missing modality): <see cref="NonFiniteInputHandling.Error"/> (default) throws naming the
    /// row and column; <see cref="NonFiniteInputHandling.TreatAsMissing"/> predicts the row from its other modalities and
    /// counts it in <see cref="RowsWithNonFiniteInputs"/>. Set from <see cref="FusionTrainerOptions.NonFiniteInputs"/>,
    /// saved with the model, and settable on a loaded model.
    /// </summary>
    public NonFiniteInputHandling NonFiniteInputs { get; set; }

    /// <summary>Rows whose non-finite modality values were read as missing under <see cref="NonFiniteInputHandling.TreatAsMissing"/>, since the model was created or loaded.</summary>
    public long RowsWithNonFiniteInputs => Interlocked.Read(ref _nonFiniteRows);
    private long _nonFiniteRows;

    /// <summary>The encoders' contracts (name, input column, shape, width).</summary>
    public IReadOnlyList<EncoderContract> Encoders => _network.Contracts;

    /// <inheritdoc />
    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        for (int i = 0; i < Layout.Columns.Count; i++)
        {
            int size = SchemaErrors.RequireFloatVector(inputSchema, Layout.Columns[i]);
            if (size != Layout.Sizes[i])
                throw SchemaErrors.Mismatch(Layout.Columns[i], $"Vector<Single, {Layout.Sizes[i]}>", inputSchema[Layout.Columns[i]].Type,
                    "feed the model the same featurization it was trained with (same image size, audio duration and mel settings).");
        }
        var cols = new List<OutputColumn>();
        foreach (var kind in OutputKinds())
            cols.Add(kind switch
            {
                OutputKind.Score => new(Outputs.Score!, new VectorDataViewType(NumberDataViewType.Single, Labels.Count), Labels.ScoreAnnotations()),
                OutputKind.PredictedLabel => new(Outputs.PredictedLabel!, new KeyDataViewType(typeof(uint), Labels.Count), Labels.KeyAnnotations()),
                OutputKind.Embedding => new(Outputs.Embedding!, new VectorDataViewType(NumberDataViewType.Single, _network.EmbeddingWidth)),
                _ => new(Outputs.ModalitiesUsed!, new VectorDataViewType(BooleanDataViewType.Instance, Layout.Columns.Count)),
            });
        return cols;
    }

    private enum OutputKind { Score, PredictedLabel, Embedding, ModalitiesUsed }

    private List<OutputKind> OutputKinds()
    {
        var kinds = new List<OutputKind>();
        if (Outputs.Score != null) kinds.Add(OutputKind.Score);
        if (Outputs.PredictedLabel != null) kinds.Add(OutputKind.PredictedLabel);
        if (Outputs.Embedding != null) kinds.Add(OutputKind.Embedding);
        if (Outputs.ModalitiesUsed != null) kinds.Add(OutputKind.ModalitiesUsed);
        return kinds;
    }

    /// <inheritdoc />
    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // The engine is chosen here (a scope of FusionServing.Use applies to the cursors and PredictionEngines created in it);
        // its session is built at the first block, not for a schema question.
        return new Mapper(this, capacity, Engine ?? FusionServing.CurrentEngine);
    }

    /// <summary>
    /// The engine that computes this model's predictions: <c>null</c> (default) follows <see cref="FusionServing.CurrentEngine"/>
    /// (ONNX Runtime where it covers the network, else TorchSharp); set <see cref="FusionServingEngine.TorchSharp"/> to opt this
    /// model out, or <see cref="FusionServingEngine.OnnxRuntime"/> to require it. Not saved with the model.
    /// </summary>
    public FusionServingEngine? Engine { get; set; }

    /// <summary>The engine the next <c>Transform</c> or <c>PredictionEngine</c> uses (building the ONNX Runtime session the first time).</summary>
    /// <exception cref="NotSupportedException"><see cref="Engine"/> requires ONNX Runtime and the network's export does not cover it; the message says why.</exception>
    public FusionServingEngine EngineInUse => Session(Engine ?? FusionServing.CurrentEngine) != null ? FusionServingEngine.OnnxRuntime : FusionServingEngine.TorchSharp;

    /// <summary>Which engine serves the model and why, in a sentence ("ONNX Runtime (2 threads)", "TorchSharp: the network is on cuda:0").</summary>
    public string EngineNote
    {
        get
        {
            _ = Session(Engine ?? FusionServing.CurrentEngine);
            return _engineNote ?? "TorchSharp";
        }
    }

    private INetworkSession? _session;
    private string? _engineNote, _sessionWhyNot;
    private (NonFiniteInputHandling, double, IReadOnlyList<bool>?)? _sessionKey;
    private readonly List<INetworkSession> _retired = new();
    private int _sessionThreads;
    private bool _compiling;

    /// <summary>
    /// The ONNX Runtime session when the model is served by it, else <c>null</c> (TorchSharp). Built once, and again only
    /// when a setting baked into the graph changes (<see cref="NonFiniteInputs"/>, the modality heads' weight, the switched-off modalities).
    /// </summary>
    private INetworkSession? Session(FusionServingEngine wanted)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_gate)
        {
            // The export reads this model's schema, which must not build a session of its own.
            if (_compiling) return null;
            if (wanted == FusionServingEngine.TorchSharp)
            {
                _engineNote = "TorchSharp (asked for)";
                return null;
            }
            string why;
            if (_device.type != DeviceType.CPU) why = $"the network is on {_device}, and ONNX Runtime serves it on the CPU only";
            else if (Outputs.Score == null && Outputs.PredictedLabel != null) why = "the model writes a predicted label without its scores";
            else
            {
                var key = (NonFiniteInputs, _network.ModalityHeadWeight, _network.DisabledModalities);
                if (_sessionKey is not { } k || k.Item1 != key.NonFiniteInputs || k.Item2 != key.ModalityHeadWeight || !ReferenceEquals(k.Item3, key.DisabledModalities))
                {
                    // A mapper may still run the old session: it is released with the model.
                    if (_session != null) _retired.Add(_session);
                    _sessionThreads = FusionServing.Threads ?? get_num_threads();
                    _compiling = true;
                    try { _session = NetworkSessions.TryCreate(this, _sessionThreads, out _sessionWhyNot); }
                    finally { _compiling = false; }
                    _sessionKey = key;
                }
                if (_session != null)
                {
                    _engineNote = $"ONNX Runtime ({_sessionThreads} thread{(_sessionThreads == 1 ? "" : "s")})";
                    return _session;
                }
                why = $"its ONNX export does not cover it ({_sessionWhyNot})";
            }
            _engineNote = "TorchSharp: " + why;
            if (wanted == FusionServingEngine.OnnxRuntime)
                throw new NotSupportedException($"This {Family.Name()} model cannot be served by ONNX Runtime: {why}." + Environment.NewLine +
                    "Hint: leave Engine null (Auto) to fall back to TorchSharp.");
            return null;
        }
    }

    /// <summary>Runs the network on flat float arrays (<c>[count, size]</c> per modality). Used by benchmarks.</summary>
    /// <returns>Probabilities <c>[count, classes]</c> and the embedding <c>[count, width]</c> (or empty).</returns>
    public (float[] probabilities, float[] embedding) Predict(float[][] inputs, float[][] present, int count, bool wantEmbedding)
    {
        using var scope = NewDisposeScope();
        var batch = new FusionBatch(
            inputs.Select((x, m) => BatchBuilder.Copy(x, count, Layout.Sizes[m])).ToArray(),
            present.Select(p => BatchBuilder.Copy(p, count, 1).squeeze(1)).ToArray(), null, count);
        float[] probabilities = Array.Empty<float>(), embedding = Array.Empty<float>();
        Predict(batch, wantEmbedding, ref probabilities, ref embedding);
        return (probabilities, embedding);
    }

    /// <summary>
    /// Runs the network on a batch in inference mode and copies the probabilities (<c>[count, classes]</c>) and the
    /// embedding (or nothing) into the caller's buffers, grown when too small: a mapper reuses them call after call.
    /// The caller's dispose scope releases the tensors.
    /// </summary>
    private void Predict(FusionBatch batch, bool wantEmbedding, ref float[] probabilities, ref float[] embedding)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var _ = inference_mode();   // no autograd bookkeeping at all (no_grad still tracks versions and views)
        var output = _network.Forward(batch.To(_device));
        var probs = nn.functional.softmax(output.Logits, 1);
        CopyOut(probs, ref probabilities);
        if (wantEmbedding) CopyOut(output.Embedding, ref embedding);
    }

    private static void CopyOut(Tensor t, ref float[] buffer)
    {
        if (t.device_type != DeviceType.CPU) t = t.cpu();
        if (!t.is_contiguous()) t = t.contiguous();
        long n = t.numel();
        if (buffer.Length < n) buffer = new float[n];
        t.data<float>().CopyTo(buffer, 0, 0);
    }

    /// <summary>
    /// Moves the network to <paramref name="device"/> (<c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>; see
    /// <see cref="FusionDevice"/>) for the following <c>Transform</c> calls. A loaded model starts on the CPU.
    /// </summary>
    /// <returns>This transformer.</returns>
    public FusionPredictionTransformer ToDevice(string device)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var target = FusionDevice.Resolve(device);
        lock (_gate) { _network.to(target); _device = target; }
        return this;
    }

    /// <summary>The device the network is on (<c>cpu</c>, <c>cuda:0</c>, …).</summary>
    public string Device => _device.ToString();

    /// <summary>Frees the network's native memory and its ONNX Runtime session.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate)
        {
            _session?.Dispose();
            foreach (var old in _retired) old.Dispose();
        }
        _network.Dispose();
    }

    /// <summary>
    /// Writes the network, the missing-modality rule and the softmax to an ONNX graph: <c>Score</c> as <c>[B, classes]</c>
    /// float, <c>PredictedLabel</c> as <c>[B, 1]</c> uint32 (the key: class index + 1, as ML.NET's), the embedding and
    /// <c>ModalitiesUsed</c> (bool) when the model writes them.
    /// </summary>
    void IOnnxExportable.ExportOnnx(OnnxExportContext context)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var g = context.Graph;
        var inputs = Layout.Columns.Select(context.Read).ToArray();
        var (probabilities, embedding, used) = _network.ExportOnnx(g, inputs, NonFiniteInputs == NonFiniteInputHandling.TreatAsMissing);
        if (Outputs.Score != null)
        {
            context.Write(Outputs.Score, probabilities, OnnxElementType.Float, Labels.Count);
            context.MarkOutput(Outputs.Score);
        }
        if (Outputs.PredictedLabel != null)
        {
            context.Write(Outputs.PredictedLabel, g.PredictedKey(probabilities), OnnxElementType.UInt32, 1);
            context.MarkOutput(Outputs.PredictedLabel);
        }
        if (Outputs.Embedding != null)
        {
            context.Write(Outputs.Embedding, embedding, OnnxElementType.Float, _network.EmbeddingWidth);
            context.MarkOutput(Outputs.Embedding);
        }
        if (Outputs.ModalitiesUsed != null)
        {
            var flags = g.Cast(g.Stack1(used), OnnxElementType.Bool);
            context.Write(Outputs.ModalitiesUsed, flags, OnnxElementType.Bool, used.Length);
            context.MarkOutput(Outputs.ModalitiesUsed);
        }
    }

    private sealed class Mapper : BatchMapper
    {
        private readonly FusionPredictionTransformer _parent;
        private readonly BatchBuilder _rows;
        private readonly int _classes, _width, _modalities;
        private float[] _probs = Array.Empty<float>(), _emb = Array.Empty<float>();
        private readonly List<OutputKind> _kinds;
        private RowReader? _reader;
        private readonly FusionServingEngine _engine;
        private INetworkSession? _runnerSession;
        private INetworkRunner? _runner;

        public Mapper(FusionPredictionTransformer parent, int capacity, FusionServingEngine engine)
        {
            _parent = parent;
            _engine = engine;
            _modalities = parent.Layout.Columns.Count;
            _rows = new BatchBuilder(parent.Layout.Sizes, capacity);
            _classes = parent.Labels.Count;
            _width = parent._network.EmbeddingWidth;
            _kinds = parent.OutputKinds();
        }

        public override IReadOnlyList<string> InputColumns => _parent.Layout.Columns;

        public override void Bind(DataViewRow input)
            => _reader = new RowReader(input, _parent.Layout.Columns, _parent.Layout.Sizes, null, _parent.NonFiniteInputs == NonFiniteInputHandling.TreatAsMissing);

        public override void ReadRow(int slot, long position)
        {
            bool any = _rows.Read(_reader!, slot);
            if (_rows.LastRowHadNonFinite) Interlocked.Increment(ref _parent._nonFiniteRows);
            if (!any)
                throw new InvalidOperationException(
                    $"Row {position}: every modality ({string.Join(", ", _parent.Layout.Columns.Select(c => $"'{c}'"))}) is missing (all NaN), so there is nothing to predict from." +
                    Environment.NewLine + "Hint: provide at least one modality per row, or filter such rows out before prediction.");
        }

        public override void Compute(int count, bool[] active)
        {
            bool wantEmb = false;
            for (int i = 0; i < _kinds.Count; i++) wantEmb |= _kinds[i] == OutputKind.Embedding && active[i];
            // Asked per block: a setting baked into the graph (NonFiniteInputs, the heads' weight) may have changed.
            var session = _parent.Session(_engine);
            if (session != null)
            {
                if (!ReferenceEquals(session, _runnerSession))
                {
                    _runner?.Dispose();
                    _runner = session.CreateRunner();
                    _runnerSession = session;
                }
                // The graph reads an absent modality as an all-NaN row, as the model's input marks it.
                _rows.MarkAbsentAsNaN(count);
                _runner!.Run(_rows.Values, count, wantEmb, ref _probs, ref _emb);
                return;
            }
            // One dispose scope per block (per row in a PredictionEngine): the batch's and the network's tensors.
            using var scope = NewDisposeScope();
            _parent.Predict(_rows.ToBatch(count, withLabels: false), wantEmb, ref _probs, ref _emb);
        }

        public override void Dispose()
        {
            _runner?.Dispose();
            _runner = null;
            _runnerSession = null;
        }

        public override Delegate GetOutputGetter(int output, Func<int> slot)
        {
            var kind = _kinds[output];
            if (kind == OutputKind.Score)
                return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    var editor = VBufferEditor.Create(ref dst, _classes);
                    _probs.AsSpan(slot() * _classes, _classes).CopyTo(editor.Values);
                    dst = editor.Commit();
                });
            if (kind == OutputKind.PredictedLabel)
                return (ValueGetter<uint>)((ref uint dst) =>
                {
                    var row = _probs.AsSpan(slot() * _classes, _classes);
                    int best = 0;
                    for (int k = 1; k < row.Length; k++) if (row[k] > row[best]) best = k;
                    dst = (uint)best + 1;
                });
            if (kind == OutputKind.Embedding)
                return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    var editor = VBufferEditor.Create(ref dst, _width);
                    _emb.AsSpan(slot() * _width, _width).CopyTo(editor.Values);
                    dst = editor.Commit();
                });
            return (ValueGetter<VBuffer<bool>>)((ref VBuffer<bool> dst) =>
            {
                var editor = VBufferEditor.Create(ref dst, _modalities);
                int s = slot();
                for (int m = 0; m < _modalities; m++) editor.Values[m] = _parent._network.Uses(m, k => _rows.IsPresent(k, s));
                dst = editor.Commit();
            });
        }
    }
}

/// <summary>Names of a fusion model's output columns.</summary>
/// <param name="Score">Class probabilities. Default <c>Score</c>; <c>null</c> for none (featurizers).</param>
/// <param name="PredictedLabel">Predicted key. Default <c>PredictedLabel</c>; <c>null</c> for none (featurizers).</param>
/// <param name="Embedding">The fused embedding column, or <c>null</c> for none.</param>
/// <param name="ModalitiesUsed">A <c>Vector&lt;Boolean&gt;</c> of which modalities each row used, or <c>null</c> for none.</param>
public sealed record FusionOutputColumns(string? Score = "Score", string? PredictedLabel = "PredictedLabel", string? Embedding = null, string? ModalitiesUsed = null);

/// <summary>What rebuilds a trained network's architecture: the trainer's model key, its options as JSON, and each modality's shape.</summary>
internal sealed record NetworkRecipe(string ModelKey, string ArchitectureJson, int[][] Shapes);

/// <summary>The saved configuration of a <see cref="FusionPredictionTransformer"/>. <c>Family</c> holds the trainer's model key
/// (<c>merge</c>, <c>network</c>, <c>cross-modal</c>, <c>mlp</c>; earlier files wrote <c>crossmodal</c>).
/// <c>Disabled</c> flags the modalities that modality selection switched off (absent in files written before it: all used);
/// <c>NonFiniteInputs</c> is <see cref="FusionPredictionTransformer.NonFiniteInputs"/> (absent before it: Error);
/// <c>ModalityHeadWeight</c> is <see cref="Models.FusionNetwork.ModalityHeadWeight"/> (version 3; before it: 0).</summary>
internal sealed record FusionPredictionConfig(string Family, string? Options, int[][] Shapes, string[] Columns, int[] Sizes,
    LabelKeyValuesData Labels, FusionOutputColumns Outputs, int BatchSize, bool[]? Disabled = null, NonFiniteInputHandling NonFiniteInputs = NonFiniteInputHandling.Error,
    double ModalityHeadWeight = 0, string? Architecture = null);

/// <summary>What a fusion model does at prediction with NaN or infinite values in a present modality.</summary>
public enum NonFiniteInputHandling
{
    /// <summary>Throw an error naming the row and the column (default): corrupt input is never silently predicted.</summary>
    Error,
    /// <summary>Read that modality as missing for that row, predict from the others, and count the row (<see cref="FusionPredictionTransformer.RowsWithNonFiniteInputs"/>).</summary>
    TreatAsMissing,
}
