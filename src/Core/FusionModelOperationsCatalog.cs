using MLNetFusion.Persistence;
using MLNetFusion.Runtime;

// Catalog extensions live in Microsoft.ML, as ML.NET's own packages do, so `using Microsoft.ML;` finds them.
namespace Microsoft.ML;

/// <summary>
/// Saves and loads fitted pipelines that mix ML.NET's built-in transformers with MLNetFusion's components:
/// <c>mlContext.Model.SaveFusionModel(model, schema, path)</c> and <c>mlContext.Model.LoadFusionModel(path, out schema)</c>,
/// the counterparts of <c>mlContext.Model.Save</c>/<c>Load</c>. Sample: <c>src/Samples/SaveAndServeSample.cs</c>.
/// </summary>
/// <remarks>
/// <para>ML.NET (5 and 6) keeps its model-saving extension points internal, so third-party transformers cannot be written by
/// <c>mlContext.Model.Save</c>. A fusion model file is a zip archive: built-in parts are stored in ML.NET's own format
/// (written and read with the public <c>Save</c>/<c>Load</c>), MLNetFusion's parts as JSON plus TorchSharp weights,
/// and a versioned manifest ties them together (see <see cref="FusionModelFile"/>).</para>
/// <para>Loading is safe on untrusted input in the sense that it creates only allow-listed component kinds, rejects
/// entry paths outside the archive, checks every entry's size and SHA-256 before parsing it, and reports damage as
/// <see cref="FusionModelFormatException"/>. Dispose the loaded model (it is an <see cref="IDisposable"/>
/// <c>TransformerChain</c>) to free its native memory.</para>
/// </remarks>
public static class FusionModelOperationsCatalog
{
    /// <summary>Saves <paramref name="model"/> and its input schema to <paramref name="stream"/>.</summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">A fitted transformer or chain (chains may nest) of ML.NET and MLNetFusion transformers.</param>
    /// <param name="inputSchema">The schema of the data the model was fitted on (<c>data.Schema</c>), or <c>null</c>.</param>
    /// <param name="stream">A writable stream.</param>
    /// <exception cref="InvalidOperationException">A component cannot be saved; the message names it.</exception>
    public static void SaveFusionModel(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema? inputSchema, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        new FusionModelWriter(catalog).Write(model, inputSchema, stream);
    }

    /// <summary>Saves <paramref name="model"/> and its input schema to the file <paramref name="filePath"/>.</summary>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="model">The fitted model (a transformer or chain).</param>
    /// <param name="inputSchema">The schema of the data the model was fitted on (saved with it; <c>null</c> if unknown).</param>
    /// <param name="filePath">The model file.</param>
    public static void SaveFusionModel(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema? inputSchema, string filePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        // Write to a temporary file first, so an interrupted save never leaves a half-written model under the final name.
        var temp = filePath + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var fs = File.Create(temp)) catalog.SaveFusionModel(model, inputSchema, fs);
            File.Move(temp, filePath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Loads a model written by <see cref="SaveFusionModel(ModelOperationsCatalog, ITransformer, DataViewSchema?, Stream)"/>.</summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>) of the context that will use the model.</param>
    /// <param name="stream">A readable stream.</param>
    /// <param name="inputSchema">The saved input schema, or <c>null</c> if none was saved.</param>
    /// <returns>The model; a chain comes back as <c>TransformerChain&lt;ITransformer&gt;</c>. Dispose it when done.</returns>
    /// <exception cref="FusionModelFormatException">The file is damaged, tampered with, newer than this library, or names an unknown component.</exception>
    public static ITransformer LoadFusionModel(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema? inputSchema)
        => catalog.LoadFusionModel(stream, out inputSchema, null);

    /// <summary>Loads a model with limits of your own (<see cref="FusionModelLoadOptions"/>: most parameters per network, largest entry).</summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>) of the context that will use the model.</param>
    /// <param name="stream">A readable stream.</param>
    /// <param name="inputSchema">The saved input schema, or <c>null</c> if none was saved.</param>
    /// <param name="limits">The limits; <c>null</c> for the defaults (250 million parameters per network, 2 GiB per entry).</param>
    /// <exception cref="FusionModelFormatException">The file is damaged, exceeds a limit, is newer than this library, or names an unknown component.</exception>
    public static ITransformer LoadFusionModel(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema? inputSchema, FusionModelLoadOptions? limits)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(stream);
        var source = stream;
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            source = copy;
        }
        using var reader = new FusionModelReader(catalog, FusionEnvironment.FromCatalog(catalog), source, limits);
        return reader.Load(out inputSchema);
    }

    /// <summary>Loads a model from the file <paramref name="filePath"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <param name="catalog">The catalog the method extends.</param>
    /// <param name="filePath">The model file.</param>
    /// <param name="inputSchema">The schema of the data the model was fitted on (saved with it; <c>null</c> if unknown).</param>
    public static ITransformer LoadFusionModel(this ModelOperationsCatalog catalog, string filePath, out DataViewSchema? inputSchema)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        if (!File.Exists(filePath)) throw new FileNotFoundException($"Model file '{filePath}' does not exist." + Environment.NewLine +
            "Hint: check the path; save the model with mlContext.Model.SaveFusionModel first.", filePath);
        using var fs = File.OpenRead(filePath);
        return catalog.LoadFusionModel(fs, out inputSchema);
    }
}
