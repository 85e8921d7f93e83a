using MLNetFusion.Models;
using MLNetFusion.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetFusion.Trainers.Network;

/// <summary>
/// Network fusion: each encoder's layers (its final embedding, or every stage when <c>useIntermediateLayers</c>) are
/// concatenated with the modality presence flags and merged by learned fully-connected layers, trained end to end.
/// With one modality this is a plain MLP classifier (the early-fusion <see cref="Early.FusionMlpTrainer"/>).
/// </summary>
internal sealed class NetworkFusionNetwork : FusionNetwork
{
    private readonly Sequential fusion;
    private readonly ClassifierHead head;
    private readonly bool _stages;
    private readonly int _width;

    /// <summary>Creates the network.</summary>
    public NetworkFusionNetwork(IReadOnlyList<ModalityEncoder> encoders, int classes, int[] fusionWidths, double fusionDropout,
        bool useIntermediateLayers, int[] headWidths, double headDropout, double modalityDropout, double auxWeight)
        : base(nameof(NetworkFusionNetwork), encoders, classes, modalityDropout, auxWeight)
    {
        _stages = useIntermediateLayers;
        int input = encoders.Sum(e => useIntermediateLayers ? e.StageWidths.Sum() : e.Contract.OutputWidth) + (encoders.Count > 1 ? encoders.Count : 0);
        (fusion, _width) = Layers.ReluStack(input, fusionWidths, fusionDropout);
        head = new ClassifierHead(_width, headWidths, headDropout, classes);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override int EmbeddingWidth => _width;

    /// <inheritdoc />
    protected override (Tensor logits, Tensor embedding, Tensor[] modalityEmbeddings) Fuse(Tensor[] inputs, Tensor[] present)
    {
        var parts = new List<Tensor>();
        var own = new Tensor[inputs.Length];
        for (int m = 0; m < inputs.Length; m++)
        {
            var stages = encoders[m].ForwardStages(inputs[m]);
            var mask = present[m].unsqueeze(1);
            own[m] = stages[^1];
            parts.Add((_stages ? cat(stages, 1) : stages[^1]) * mask);
        }
        if (inputs.Length > 1) parts.Add(stack(present, 1));
        var h = fusion.call(parts.Count == 1 ? parts[0] : cat(parts, 1));
        return (head.call(h), h, own);
    }

    /// <inheritdoc />
    protected override (string logits, string embedding, string[] modalityEmbeddings) FuseOnnx(OnnxGraph g, string[] inputs, string[] present)
    {
        var parts = new List<string>();
        var own = new string[inputs.Length];
        for (int m = 0; m < inputs.Length; m++)
            using (g.Scope(encoders[m].Contract.Name))
            {
                var stages = encoders[m].ExportOnnx(g, inputs[m], false).Stages;
                own[m] = stages[^1];
                parts.Add(g.Mul(_stages ? g.Concat(1, stages) : stages[^1], g.Unsqueeze(present[m], 1)));
            }
        if (inputs.Length > 1) parts.Add(g.Stack1(present));
        string h;
        using (g.Scope("fusion")) h = g.Sequential(fusion, g.Concat(1, parts));
        return (ClassifierHead.ExportOnnx(head, g, h), h, own);
    }
}
