using Microsoft.ML.Data;
using MLNetFusion.Onnx;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>
/// Exports fitted MLNetFusion chains to ONNX with their preprocessing inside the graph:
/// <c>mlContext.Model.ExportFusionToOnnx(model, data.Schema, stream)</c>. The graph is served by ONNX Runtime, or by
/// ML.NET's <c>ApplyOnnxModel</c> (Microsoft.ML.OnnxTransformer), with no TorchSharp. Sample: <c>src/Samples/OnnxExportSample.cs</c>.
/// </summary>
/// <remarks>
/// <para>In the graph: every neural family (merge with every operation, network, cross-modal, <c>FusionMlp</c>, the trainable
/// featurizers), the log-mel (<c>MelSpectrogram</c>: reflect padding, the windowed DFT and the mel filter bank as constant
/// matrix products, power, log, per-clip normalisation), each encoder's input standardisation and per-clip normalisation,
/// the missing-modality rule (an input row that is entirely NaN is an absent modality), switched-off modalities, the
/// modality heads' product of experts, the softmax, and ML.NET's <c>Concatenate</c>, affine normalizers, <c>CopyColumns</c>
/// and <c>MapKeyToValue</c>.</para>
/// <para>Outside the graph, as in ML.NET's own ONNX export: WAV decoding (<c>LoadAudio</c>), image decoding and resizing
/// (<c>LoadImages</c>, <c>ResizeImages</c>, <c>ExtractPixels</c>), text tokenisation (<c>HashTextTokens</c>) and other steps
/// that read raw text; <see cref="FusionOnnxExport.OutsideGraph"/> is the chain of those steps, which turns raw rows into the graph's inputs.</para>
/// <para>A graph cannot raise errors: where <c>Transform</c> throws (a modality with only some NaN values, a row with no
/// modality), the graph returns NaN probabilities for that row.</para>
/// </remarks>
public static class FusionOnnxCatalog
{
    /// <summary>Writes <paramref name="model"/> as one ONNX model (opset <see cref="OnnxGraph.Opset"/>) to <paramref name="stream"/>.</summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">A fitted chain (or one transformer) that ends with MLNetFusion models or featurizers.</param>
    /// <param name="inputSchema">The schema of the data the model is applied to (<c>data.Schema</c>).</param>
    /// <param name="stream">A writable stream.</param>
    /// <param name="options">Options; <c>null</c> for the defaults.</param>
    /// <returns>The graph's inputs and outputs, the steps left outside it and the file size.</returns>
    /// <exception cref="NotSupportedException">A step cannot be exported; the message names it and says what to do.</exception>
    public static FusionOnnxExport ExportFusionToOnnx(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, Stream stream,
        FusionOnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentNullException.ThrowIfNull(stream);
        return new FusionOnnxExporter(options).Export(model, inputSchema, stream);
    }

    /// <summary>
    /// The same model with its graph served by ONNX Runtime: the steps outside the graph, then an
    /// <see cref="OnnxRuntimeTransformer"/> that writes the model's own output columns (same names, types and
    /// annotations), so <c>Transform</c> and <c>PredictionEngine</c> work unchanged and no TorchSharp runs at prediction.
    /// </summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">A fitted chain that <see cref="ExportFusionToOnnx(ModelOperationsCatalog, ITransformer, DataViewSchema, Stream, FusionOnnxExportOptions?)"/> can export.</param>
    /// <param name="inputSchema">The schema of the rows the model is applied to.</param>
    /// <param name="options">Threads and batch size; <c>null</c> for the defaults.</param>
    /// <returns>A chain; dispose it to release the ONNX Runtime session (the original model stays yours to dispose).</returns>
    public static TransformerChain<ITransformer> WithOnnxRuntime(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, OnnxRuntimeServingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        options ??= new OnnxRuntimeServingOptions();
        options.Validate();
        using var buffer = new MemoryStream();
        var export = catalog.ExportFusionToOnnx(model, inputSchema, buffer, options.Export);
        var onnx = new OnnxRuntimeTransformer(buffer.ToArray(), export, model.GetOutputSchema(inputSchema), options.Threads ?? TorchSharp.torch.get_num_threads(), options.BatchSize);
        return new TransformerChain<ITransformer>(export.OutsideGraphSteps.Append(onnx).ToArray());
    }

    /// <summary>Writes <paramref name="model"/> as one ONNX model to the file <paramref name="filePath"/> (replaced only when the export succeeds).</summary>
    /// <inheritdoc cref="ExportFusionToOnnx(ModelOperationsCatalog, ITransformer, DataViewSchema, Stream, FusionOnnxExportOptions?)"/>
    public static FusionOnnxExport ExportFusionToOnnx(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string filePath,
        FusionOnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        var temp = filePath + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            FusionOnnxExport result;
            using (var fs = File.Create(temp)) result = catalog.ExportFusionToOnnx(model, inputSchema, fs, options);
            File.Move(temp, filePath, overwrite: true);
            return result;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
