namespace MLNetFusion.Onnx;

/// <summary>
/// A transformer that can write its inference computation into an ONNX graph (MLNetFusion's fusion models and
/// featurizers). <c>mlContext.Model.ExportFusionToOnnx</c> (package MLNetFusion.Onnx) calls it for each step of a chain.
/// </summary>
public interface IOnnxExportable
{
    /// <summary>Reads this transformer's input columns from <paramref name="context"/> and writes its output columns.</summary>
    /// <exception cref="NotSupportedException">This configuration cannot be exported; the message says why and what to do.</exception>
    void ExportOnnx(OnnxExportContext context);
}

/// <summary>
/// The columns of a chain being exported to ONNX: which graph value holds each column so far. A column no step of the
/// graph has written is a graph input, named after the column, with a dynamic batch dimension.
/// </summary>
public abstract class OnnxExportContext
{
    /// <summary>The graph being written.</summary>
    public abstract OnnxGraph Graph { get; }

    /// <summary>
    /// The value holding <paramref name="column"/>: <c>[B, size]</c> for a vector or scalar column (scalars as
    /// <c>[B, 1]</c>); float for numbers, uint32 for keys, string for text.
    /// </summary>
    /// <exception cref="ArgumentException">The column does not exist, or its type cannot be a graph input.</exception>
    public abstract string Read(string column);

    /// <summary>Records that <paramref name="value"/> (<c>[B, size]</c> of <paramref name="type"/>) now holds <paramref name="column"/>.</summary>
    public abstract void Write(string column, string value, OnnxElementType type, long size);

    /// <summary>Values per row of <paramref name="column"/> (reading it makes it a graph input if no step wrote it).</summary>
    public abstract long SizeOf(string column);

    /// <summary>Makes <paramref name="column"/> (its last value) an output of the graph.</summary>
    public abstract void MarkOutput(string column);
}
