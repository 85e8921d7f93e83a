using MLNetFusion.Data;
using MLNetFusion.Onnx;
using MLNetFusion.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>
/// Base for every MLNetFusion network: per-modality encoders, modality dropout, masking of missing modalities and
/// per-modality auxiliary heads. Families implement only <see cref="Fuse"/>. The network returns logits; the loss is
/// the training's (<see cref="FusionLoss"/>).
/// </summary>
/// <remarks>
/// A modality is missing for a row when its input vector is all NaN (see <see cref="FusionBatch.Present"/>). Missing and
/// dropped modalities have their embedding zeroed and are excluded from mean/attention merges, so the model predicts
/// from the modalities present. Modality dropout trains exactly that situation and keeps one modality from dominating.
/// </remarks>
public abstract class FusionNetwork : nn.Module<FusionBatch, FusionOutput>, IFusionNetwork
{
    /// <summary>One encoder per modality, in the layout's order.</summary>
    protected readonly ModuleList<ModalityEncoder> encoders;
    private readonly ModuleList<Linear> aux_heads;
    private readonly double _modalityDropout;
    private bool[]? _disabled;

    /// <summary>Creates the network.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="modalityEncoders">Encoders, one per modality.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="modalityDropout">Probability of dropping each modality of each training row.</param>
    /// <param name="auxiliaryLossWeight">Weight of the per-modality auxiliary classification losses: above 0, each modality gets
    /// a linear head on its own embedding, whose logits <see cref="FusionOutput.ModalityLogits"/> returns in training.</param>
    /// <param name="auxiliaryWidths">Width of each modality's own embedding fed to its auxiliary head (default: the encoder's output width).</param>
    protected FusionNetwork(string name, IReadOnlyList<ModalityEncoder> modalityEncoders, int classCount, double modalityDropout, double auxiliaryLossWeight,
        IReadOnlyList<int>? auxiliaryWidths = null)
        : base(name)
    {
        ClassCount = classCount;
        _modalityDropout = modalityDropout;
        encoders = nn.ModuleList(modalityEncoders.ToArray());
        aux_heads = nn.ModuleList(auxiliaryLossWeight > 0
            ? modalityEncoders.Select((e, i) => nn.Linear(auxiliaryWidths?[i] ?? e.Contract.OutputWidth, classCount)).ToArray()
            : Array.Empty<Linear>());
    }

    /// <inheritdoc />
    public nn.Module Module => this;

    /// <inheritdoc />
    public int ClassCount { get; }

    /// <inheritdoc />
    public abstract int EmbeddingWidth { get; }

    /// <summary>The trainable parameters of modality <paramref name="modality"/>'s encoder (for gradient modulation).</summary>
    internal IEnumerable<TorchSharp.Modules.Parameter> EncoderParameters(int modality) => encoders[modality].parameters();

    /// <summary>
    /// Modalities switched off because held-out evidence showed they do not help (<see cref="ModalitySelection"/>), one
    /// flag per modality; <c>null</c> when every modality is used. A switched-off modality is treated as missing in every
    /// row that has a modality still in use, and is used only by rows that have nothing else.
    /// </summary>
    public IReadOnlyList<bool>? DisabledModalities
    {
        get => _disabled;
        set
        {
            if (value != null && value.Count != encoders.Count)
                throw new ArgumentException($"{value.Count} flags for {encoders.Count} modalities.", nameof(value));
            if (value != null && value.All(d => d)) throw new ArgumentException("At least one modality must stay in use.", nameof(value));
            _disabled = value == null || !value.Any(d => d) ? null : value.ToArray();
        }
    }

    /// <summary>
    /// Weight of each present modality's own (auxiliary) head at prediction: outside training, the logits are the fused
    /// head's log-probabilities plus this weight times each present modality's head's log-probabilities. 0 (default)
    /// returns the fused head's logits. Needs auxiliary heads.
    /// </summary>
    public double ModalityHeadWeight
    {
        get => _modalityHeadWeight;
        set
        {
            if (!(value >= 0 && value <= MaxModalityHeadWeight))
                throw new ArgumentOutOfRangeException(nameof(value), value, $"The modality head weight must be in [0, {MaxModalityHeadWeight}]." +
                    Environment.NewLine + "Hint: 1 (the trainers' default) weighs each modality's head like the fused head; 0 predicts from the fused head alone.");
            if (value > 0 && aux_heads.Count == 0)
                throw new InvalidOperationException("This network has no per-modality heads (it was built with AuxiliaryLossWeight 0)." +
                    Environment.NewLine + "Hint: retrain with AuxiliaryLossWeight above 0 (default 0.5) to use the heads in the prediction.");
            _modalityHeadWeight = value;
        }
    }

    /// <summary>Largest <see cref="ModalityHeadWeight"/> (the trainers' options and model files are held to it too).</summary>
    public const double MaxModalityHeadWeight = 10;
    private double _modalityHeadWeight;

    /// <summary>Whether the network has per-modality (auxiliary) heads.</summary>
    public bool HasModalityHeads => aux_heads.Count > 0;

    /// <summary>Whether a row uses modality <paramref name="m"/>, given which of its modalities are present.</summary>
    public bool Uses(int m, Func<int, bool> isPresent)
    {
        if (!isPresent(m)) return false;
        if (_disabled == null || !_disabled[m]) return true;
        for (int k = 0; k < _disabled.Length; k++) if (!_disabled[k] && isPresent(k)) return false;
        return true;
    }

    /// <summary>The encoders whose learning rate differs from the trainer's, with their multipliers (for the optimiser's parameter groups).</summary>
    /// <inheritdoc />
    public IEnumerable<(nn.Module module, double multiplier)> ScaledModules() => ScaledEncoders().Select(e => ((nn.Module)e.encoder, e.multiplier));

    internal IEnumerable<(ModalityEncoder encoder, double multiplier)> ScaledEncoders()
        => encoders.Where(e => e.LearningRateMultiplier != 1).Select(e => (e, e.LearningRateMultiplier));

    /// <summary>The encoders' contracts.</summary>
    public IReadOnlyList<EncoderContract> Contracts => encoders.Select(e => e.Contract).ToArray();

    /// <summary>Fuses the modalities.</summary>
    /// <param name="inputs">Per modality, <c>[B, size]</c>.</param>
    /// <param name="present">Per modality, <c>[B]</c> float mask (1 = use).</param>
    /// <returns>Logits, the fused embedding, and each modality's own embedding (for auxiliary heads).</returns>
    protected abstract (Tensor logits, Tensor embedding, Tensor[] modalityEmbeddings) Fuse(Tensor[] inputs, Tensor[] present);

    /// <inheritdoc />
    public FusionOutput Forward(FusionBatch batch) => call(batch);

    /// <inheritdoc />
    public override FusionOutput forward(FusionBatch batch)
    {
        var present = _disabled == null ? batch.Present : WithoutDisabled(batch.Present);
        if (training && _modalityDropout > 0 && present.Length > 1) present = DropModalities(present);
        var (logits, embedding, modalityEmbeddings) = Fuse(batch.Features, present);
        Tensor[]? modalityLogits = null;
        if (training && aux_heads.Count > 0)
            modalityLogits = Enumerable.Range(0, modalityEmbeddings.Length).Select(m => aux_heads[m].call(modalityEmbeddings[m])).ToArray();
        else if (!training && _modalityHeadWeight > 0)
        {
            // A product of experts of the fused head and the heads of the modalities each row uses.
            var combined = nn.functional.log_softmax(logits, 1);
            for (int m = 0; m < modalityEmbeddings.Length; m++)
            {
                var head = nn.functional.log_softmax(aux_heads[m].call(modalityEmbeddings[m]), 1) * _modalityHeadWeight;
                // where, not a product: an absent row's head may be anything. A modality every row has needs no mask
                // (the same values, four fewer operations on a one-row prediction).
                bool everywhere = batch.PresentInEveryRow is { } known && known[m] && (_disabled == null || !_disabled[m]);
                combined = everywhere ? combined + head : combined + where(present[m].gt(0).unsqueeze(1), head, zeros_like(head));
            }
            logits = combined;
        }
        return new FusionOutput(logits, embedding, modalityLogits);
    }

    /// <summary>
    /// The ONNX counterpart of <see cref="Fuse"/>: writes the family's fusion to <paramref name="graph"/> from each
    /// modality's input value (<c>[B, size]</c>, zeros where the modality is absent) and presence value (<c>[B]</c>, 1 = use).
    /// </summary>
    /// <returns>The logits' value, the fused embedding's value and each modality's own embedding's value (for the modality heads).</returns>
    /// <exception cref="NotSupportedException">The family has no ONNX description (the default; MLNetFusion's families override it).</exception>
    protected virtual (string logits, string embedding, string[] modalityEmbeddings) FuseOnnx(OnnxGraph graph, string[] inputs, string[] present)
        => throw new NotSupportedException($"The {GetType().Name} network cannot be exported to ONNX." + Environment.NewLine +
            "Hint: override FusionNetwork.FuseOnnx to describe its fusion with OnnxGraph's operators, as MLNetFusion's families do.");

    /// <summary>
    /// Writes the network's inference computation to <paramref name="graph"/>, as <see cref="forward"/> in eval mode
    /// computes it after <c>FusionPredictionTransformer</c> has read the rows: a modality whose input row is entirely NaN
    /// is absent (its values become 0), switched-off modalities are masked, the modality heads join the prediction, and
    /// the result is the softmax. A graph cannot raise an error, so a row with only some NaN values gives NaN
    /// probabilities (where <c>Transform</c> throws), and so does a row with no modality present.
    /// </summary>
    /// <param name="graph">The graph being written.</param>
    /// <param name="inputs">Each modality's input value, <c>[B, size]</c> float, in the layout's order.</param>
    /// <param name="nonFiniteAsMissing">Read a modality with any NaN or infinite value as absent (the model's <c>NonFiniteInputHandling.TreatAsMissing</c>), instead of only an entirely NaN one.</param>
    /// <returns>The probabilities <c>[B, classes]</c>, the fused embedding <c>[B, EmbeddingWidth]</c> and each modality's presence <c>[B]</c> (1 = used).</returns>
    public (string probabilities, string embedding, string[] used) ExportOnnx(OnnxGraph graph, IReadOnlyList<string> inputs, bool nonFiniteAsMissing = false)
    {
        if (inputs.Count != encoders.Count) throw new ArgumentException($"{inputs.Count} inputs for {encoders.Count} modalities.", nameof(inputs));
        var cleaned = new string[inputs.Count];
        var present = new string[inputs.Count];
        using (graph.Scope("presence"))
            for (int m = 0; m < inputs.Count; m++)
            {
                var allNan = nonFiniteAsMissing
                    ? graph.Reduce("ReduceMax", graph.Cast(graph.Node("Or", new[] { graph.Node("IsNaN", new[] { inputs[m] }), graph.Node("IsInf", new[] { inputs[m] }) }), OnnxElementType.Float), false, 1)
                    : graph.Reduce("ReduceMin", graph.Cast(graph.Node("IsNaN", new[] { inputs[m] }), OnnxElementType.Float), false, 1);   // [B]: 1 when every value is NaN (or, opted in, any is not finite)
                present[m] = graph.Sub(graph.Scalar(1f), allNan);
                cleaned[m] = graph.Where(graph.Cast(graph.Unsqueeze(allNan, 1), OnnxElementType.Bool), graph.Scalar(0f), inputs[m]);   // absent rows read as zeros, as BatchBuilder writes them
            }
        var anyPresent = present.Aggregate((a, b) => graph.Add(a, b));
        if (_disabled != null)
            using (graph.Scope("disabled"))
            {
                string? enabled = null;
                for (int m = 0; m < present.Length; m++)
                    if (!_disabled[m]) enabled = enabled is null ? present[m] : graph.Add(enabled, present[m]);
                var nothingElse = graph.Cast(graph.Node("Equal", new[] { enabled!, graph.Scalar(0f) }), OnnxElementType.Float);
                present = present.Select((p, m) => _disabled[m] ? graph.Mul(p, nothingElse) : p).ToArray();
            }
        var (logits, embedding, own) = FuseOnnx(graph, cleaned, present);
        if (_modalityHeadWeight > 0)
            using (graph.Scope("modality_heads"))
            {
                var combined = graph.LogSoftmax(logits, 1);
                for (int m = 0; m < own.Length; m++)
                {
                    var head = graph.Mul(graph.LogSoftmax(graph.Linear(aux_heads[m], own[m]), 1), graph.Scalar((float)_modalityHeadWeight));
                    combined = graph.Add(combined, graph.Mul(head, graph.Unsqueeze(present[m], 1)));   // present is 0/1 and the head finite: the product is where()
                }
                logits = combined;
            }
        var probabilities = graph.Softmax(logits, 1);
        // No modality at all: Transform refuses such a row; the graph marks it with NaN probabilities.
        var none = graph.Unsqueeze(graph.Node("Equal", new[] { anyPresent, graph.Scalar(0f) }), 1);
        probabilities = graph.Where(none, graph.Scalar(float.NaN), probabilities);
        return (probabilities, embedding, present);
    }

    /// <summary>Masks switched-off modalities in rows that have a modality still in use.</summary>
    private Tensor[] WithoutDisabled(Tensor[] present)
    {
        Tensor? enabled = null;
        for (int m = 0; m < present.Length; m++)
            if (!_disabled![m]) enabled = enabled is null ? present[m] : enabled + present[m];
        var nothingElse = enabled!.eq(0).to_type(ScalarType.Float32);
        return present.Select((p, m) => _disabled![m] ? p * nothingElse : p).ToArray();
    }

    private Tensor[] DropModalities(Tensor[] present)
    {
        int m = present.Length;
        var stacked = stack(present, 1);                                   // [B, M]
        var keep = (rand_like(stacked) >= _modalityDropout).to_type(ScalarType.Float32);
        var kept = stacked * keep;
        // Never drop every present modality of a row: such rows keep their original mask.
        var none = kept.sum(1, keepdim: true).eq(0);
        kept = where(none, stacked, kept);
        return Enumerable.Range(0, m).Select(i => kept.select(1, i)).ToArray();
    }

}
