using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Persistence;

/// <summary>Walks a fitted transformer tree and writes the fusion model archive.</summary>
internal sealed class FusionModelWriter
{
    private readonly ModelOperationsCatalog _catalog;
    private readonly ModelManifest _manifest = new();
    private readonly List<(string path, byte[] data)> _entries = new();
    private readonly Stack<string> _path = new();

    public FusionModelWriter(ModelOperationsCatalog catalog) => _catalog = catalog;

    public void Write(ITransformer model, DataViewSchema? inputSchema, Stream stream)
    {
        _manifest.Format = FusionModelFile.FormatName;
        _manifest.FormatVersion = FusionModelFile.FormatVersion;
        _manifest.LibraryVersion = FusionModelFile.LibraryVersion;
        _manifest.MLNetVersion = FusionModelFile.ProductVersion(typeof(MLContext).Assembly);
        _manifest.TorchSharpVersion = FusionModelFile.ProductVersion(typeof(TorchSharp.torch).Assembly);
        _manifest.CreatedUtc = DateTime.UtcNow.ToString("O");
        _manifest.Root = Add(model);
        if (inputSchema != null) _manifest.InputSchema = SaveSchema(inputSchema);

        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        WriteZipEntry(zip, FusionModelFile.ManifestEntry, JsonSerializer.SerializeToUtf8Bytes(_manifest, PersistenceJson.Options));
        foreach (var (path, data) in _entries) WriteZipEntry(zip, path, data);
    }

    private static void WriteZipEntry(ZipArchive zip, string path, byte[] data)
    {
        var entry = zip.CreateEntry(path, CompressionLevel.Fastest);
        using var s = entry.Open();
        s.Write(data);
    }

    internal EntryInfo AddEntry(string path, byte[] data)
    {
        _entries.Add((path, data));
        return new EntryInfo { Path = path, Size = data.Length, Sha256 = Hashing.Sha256(data) };
    }

    /// <summary>Adds a transformer (and its children) and returns its component id.</summary>
    internal int Add(ITransformer transformer)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        var info = new ComponentInfo { Id = _manifest.Components.Count, ClrType = transformer.GetType().FullName };
        _manifest.Components.Add(info);
        _path.Push($"{info.Id}:{transformer.GetType().Name}");
        try
        {
            if (transformer is IFusionSaveable own)
            {
                info.Kind = own.ComponentKind;
                info.Version = ComponentRegistry.VersionOf(own.ComponentKind);
                own.Save(new ComponentWriter(this, info));
            }
            else if (AsChain(transformer) is { } links && ContainsFusion(transformer))
            {
                info.Kind = FusionModelFile.ChainKind;
                foreach (var link in links) info.Children.Add(Add(link));
            }
            else
            {
                info.Kind = FusionModelFile.MLNetKind;
                info.Entries["model"] = AddEntry($"components/{info.Id}/model.zip", SaveBuiltIn(transformer));
            }
        }
        finally { _path.Pop(); }
        return info.Id;
    }

    private byte[] SaveBuiltIn(ITransformer transformer)
    {
        foreach (var t in Flatten(transformer))
        {
            var asm = t.GetType().Assembly.GetName().Name!;
            if (FusionModelFile.IsMLNetAssembly(asm) && !_manifest.MLNetAssemblies.Contains(asm)) _manifest.MLNetAssemblies.Add(asm);
        }
        try
        {
            using var ms = new MemoryStream();
            // ML.NET's own format for ML.NET's own transformers: the public ModelOperationsCatalog.Save, without a schema
            // (ML.NET transformers bind to their input when they transform, not when they load).
            _catalog.Save(transformer, null, ms);
            return ms.ToArray();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Name the link that failed, not just the chain around it.
            var culprit = transformer;
            var where = string.Join(" > ", _path.Reverse());
            if (AsChain(transformer) is { } links)
                for (int i = 0; i < links.Count; i++)
                {
                    try { using var probe = new MemoryStream(); _catalog.Save(links[i], null, probe); }
                    catch (Exception inner) when (inner is not OutOfMemoryException) { culprit = links[i]; where += $", link {i}"; ex = inner; break; }
                }
            throw new InvalidOperationException(
                $"Component '{where}' ({culprit.GetType().FullName}) cannot be saved: {ex.Message}" + Environment.NewLine +
                "Hint: a fusion model file can hold ML.NET's built-in transformers, MLNetFusion's components and chains of them; " +
                "a custom transformer must support mlContext.Model.Save itself.", ex);
        }
    }

    private EntryInfo SaveSchema(DataViewSchema schema)
    {
        // The input schema travels in ML.NET's own format (an empty chain saved with the schema). ML.NET's binary
        // format cannot hold some types (e.g. images); those columns are listed in the manifest instead.
        var builder = new DataViewSchema.Builder();
        foreach (var c in schema)
        {
            if (c.IsHidden) continue;
            if (IsSavable(c.Type)) builder.AddColumn(c.Name, c.Type, c.Annotations);
            else _manifest.OmittedInputColumns.Add($"{c.Name}: {c.Type}");
        }
        using var ms = new MemoryStream();
        _catalog.Save(new TransformerChain<ITransformer>(), builder.ToSchema(), ms);
        return AddEntry(FusionModelFile.SchemaEntry, ms.ToArray());
    }

    private static bool IsSavable(DataViewType type) => type switch
    {
        VectorDataViewType v => v.ItemType is PrimitiveDataViewType,
        PrimitiveDataViewType => true,
        _ => false,
    };

    internal static IReadOnlyList<ITransformer>? AsChain(ITransformer t)
        => t.GetType().IsGenericType && t.GetType().GetGenericTypeDefinition() == typeof(TransformerChain<>)
            ? ((IEnumerable<ITransformer>)t).ToArray() : null;

    private static bool ContainsFusion(ITransformer t)
        => t is IFusionSaveable || (AsChain(t) is { } links && links.Any(ContainsFusion));

    private static IEnumerable<ITransformer> Flatten(ITransformer t)
        => AsChain(t) is { } links ? links.SelectMany(Flatten) : new[] { t };
}
