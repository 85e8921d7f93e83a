using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNetFusion.Persistence;

/// <summary>
/// Reads a fusion model archive. Order of checks: the archive opens; every entry path stays inside the archive; the
/// manifest parses and its format version is not newer than this reader's; the component graph is a tree of
/// allow-listed kinds; then each entry's size and SHA-256 are checked before its bytes are parsed.
/// </summary>
internal sealed class FusionModelReader : IDisposable
{
    private const long MaxManifestBytes = 4 << 20;
    private long MaxEntryBytes => Limits.MaximumEntryBytes;
    private const int MaxDepth = 64;

    private readonly ModelOperationsCatalog _catalog;
    private readonly ZipArchive _zip;
    private readonly Dictionary<string, ZipArchiveEntry> _byPath = new(StringComparer.Ordinal);
    private readonly List<IDisposable> _created = new();
    private ModelManifest _manifest = null!;
    private int _depth;

    public FusionModelReader(ModelOperationsCatalog catalog, IHostEnvironment env, Stream stream, FusionModelLoadOptions? limits = null)
    {
        Limits = limits ?? new FusionModelLoadOptions();
        Limits.Validate();
        _catalog = catalog;
        Env = env;
        try
        {
            _zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            _ = _zip.Entries.Count;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or ArgumentException or NotSupportedException)
        {
            throw new FusionModelFormatException(
                $"This is not a readable MLNetFusion model file: {ex.Message}" + Environment.NewLine +
                "Hint: the file is truncated or corrupted (for example an interrupted copy or download); save the model again.", ex);
        }
    }

    public IHostEnvironment Env { get; }

    /// <summary>The caller's limits.</summary>
    public FusionModelLoadOptions Limits { get; }

    public ITransformer Load(out DataViewSchema? inputSchema)
    {
        try
        {
            CheckEntryPaths();
            _manifest = ReadManifest();
            CheckVersion(_manifest);
            CheckGraph(_manifest);
            RegisterMLNetAssemblies();
            inputSchema = _manifest.InputSchema is { } s ? LoadSchema(s) : null;
            var model = Build(_manifest.Root);
            if (inputSchema != null) CheckAcceptsInput(model, inputSchema);
            return model;
        }
        catch (Exception ex)
        {
            // A half-built model must not leak native memory.
            foreach (var d in _created) d.Dispose();
            if (ex is FusionModelFormatException or OutOfMemoryException) throw;
            throw new FusionModelFormatException($"The model file cannot be loaded: {ex.Message}" + Environment.NewLine +
                "Hint: the file is damaged or was modified after it was saved; save the model again.", ex);
        }
    }

    private void CheckEntryPaths()
    {
        foreach (var e in _zip.Entries)
        {
            CheckPath(e.FullName);
            if (!_byPath.TryAdd(e.FullName, e))
                throw new FusionModelFormatException($"Entry '{e.FullName}' appears twice in the archive." + Environment.NewLine +
                    "Hint: the file was tampered with; only use model files from a source you trust.");
        }
    }

    internal static void CheckPath(string path)
    {
        bool bad = string.IsNullOrEmpty(path) || path.Length > 512 || path.Contains('\\') || path.Contains(':') || path.Contains('\0')
            || path.StartsWith('/') || path.Split('/').Any(seg => seg is ".." or "." or "");
        if (bad)
            throw new FusionModelFormatException(
                $"Entry path '{path}' points outside the archive root (absolute, '..' or empty segments are not allowed)." + Environment.NewLine +
                "Hint: the file was tampered with; only use model files from a source you trust.");
    }

    private ModelManifest ReadManifest()
    {
        if (!_byPath.TryGetValue(FusionModelFile.ManifestEntry, out var entry))
            throw new FusionModelFormatException($"The archive has no '{FusionModelFile.ManifestEntry}', so it is not an MLNetFusion model file." + Environment.NewLine +
                "Hint: a model saved with mlContext.Model.Save is loaded with mlContext.Model.Load; use LoadFusionModel for files written by SaveFusionModel.");
        var bytes = ReadZip(entry, entry.Length, MaxManifestBytes);
        ModelManifest? m;
        try { m = JsonSerializer.Deserialize<ModelManifest>(bytes, PersistenceJson.Options); }
        catch (JsonException ex)
        {
            throw new FusionModelFormatException($"The manifest is not valid: {ex.Message}" + Environment.NewLine +
                "Hint: the file was modified or corrupted after it was saved; save the model again.", ex);
        }
        if (m == null || m.Format != FusionModelFile.FormatName)
            throw new FusionModelFormatException($"The manifest does not describe an MLNetFusion model (format '{m?.Format}')." + Environment.NewLine +
                "Hint: use LoadFusionModel only for files written by SaveFusionModel.");
        return m;
    }

    /// <summary>
    /// A loaded model must accept the input schema it was saved with: a configuration that would fail at the first
    /// <c>Transform</c> (a column name removed, an unknown column, key values gone) fails here, at load, instead.
    /// </summary>
    private static void CheckAcceptsInput(ITransformer model, DataViewSchema inputSchema)
    {
        try { model.GetOutputSchema(inputSchema); }
        catch (Exception ex) when (ex is not OutOfMemoryException and not FusionModelFormatException)
        {
            throw new FusionModelFormatException($"The loaded model does not accept the input schema it was saved with: {ex.Message.Split('\n')[0].TrimEnd()}" + Environment.NewLine +
                "Hint: the file's configuration was modified after it was saved, or it was written by an incompatible MLNetFusion version; save the model again.", ex);
        }
    }

    internal static void CheckVersion(ModelManifest m)
    {
        if (m.FormatVersion > FusionModelFile.FormatVersion)
            throw new FusionModelFormatException(
                $"The model file has format version {m.FormatVersion} (written by MLNetFusion {m.LibraryVersion}), but this MLNetFusion " +
                $"({FusionModelFile.LibraryVersion}) reads format versions up to {FusionModelFile.FormatVersion}." + Environment.NewLine +
                "Hint: upgrade MLNetFusion in the loading application, or save the model with the older version.");
        if (m.FormatVersion < 1)
            throw new FusionModelFormatException($"The model file has an invalid format version {m.FormatVersion}." + Environment.NewLine +
                "Hint: the manifest was modified; save the model again.");
    }

    private static void CheckGraph(ModelManifest m)
    {
        var n = m.Components.Count;
        FusionModelFormatException Bad(string what) => new($"The manifest's component graph is invalid: {what}." + Environment.NewLine +
            "Hint: the manifest was modified after the model was saved; save the model again.");
        if (n == 0) throw Bad("it has no components");
        if (m.Root < 0 || m.Root >= n) throw Bad($"root {m.Root} is not a component");
        var parents = new int[n];
        for (int i = 0; i < n; i++)
        {
            var c = m.Components[i];
            if (c is null || c.Id != i) throw Bad($"component {i} has id {c?.Id}");
            c.Children ??= new(); c.Entries ??= new();
            foreach (var child in c.Children)
            {
                if (child < 0 || child >= n) throw Bad($"component {i} has child {child}, which does not exist");
                if (child == m.Root || ++parents[child] > 1) throw Bad($"component {child} is used more than once");
            }
            if (c.Kind != FusionModelFile.ChainKind && c.Kind != FusionModelFile.MLNetKind && !ComponentRegistry.TryGet(c.Kind ?? "", out _))
                throw new FusionModelFormatException(
                    $"Component {i} has unknown type '{c.Kind}'. This MLNetFusion version ({FusionModelFile.LibraryVersion}) loads only: " +
                    $"{string.Join(", ", new[] { FusionModelFile.ChainKind, FusionModelFile.MLNetKind }.Concat(ComponentRegistry.Kinds))}." + Environment.NewLine +
                    "Hint: the file comes from a newer MLNetFusion or was tampered with; components are never created from type names in the file.");
            foreach (var e in c.Entries.Values) CheckEntryInfo(e);
        }
        if (m.InputSchema != null) CheckEntryInfo(m.InputSchema);
    }

    private static void CheckEntryInfo(EntryInfo? e)
    {
        if (e == null) throw new FusionModelFormatException("The manifest has an empty entry reference." + Environment.NewLine + "Hint: the manifest was modified; save the model again.");
        CheckPath(e.Path);
    }

    private void RegisterMLNetAssemblies()
    {
        // ML.NET finds a built-in component's loader only in assemblies registered with the MLContext. Names come from
        // the manifest, so only Microsoft.ML assemblies that the application already ships can be loaded.
        foreach (var name in _manifest.MLNetAssemblies ?? new())
        {
            if (!FusionModelFile.IsMLNetAssembly(name)) throw new FusionModelFormatException(
                $"The manifest names assembly '{name}', which is not part of ML.NET." + Environment.NewLine +
                "Hint: the manifest was tampered with; loading never loads code the file names outside ML.NET's own packages.");
            try
            {
                var asm = Assembly.Load(new AssemblyName(name));
                if (Env is MLContext ml) ml.ComponentCatalog.RegisterAssembly(asm);
            }
            catch (FileNotFoundException ex)
            {
                throw new FusionModelFormatException($"The model needs ML.NET package assembly '{name}', which this application does not reference." + Environment.NewLine +
                    $"Hint: add a PackageReference to '{name}' (the version in the manifest is {_manifest.MLNetVersion}).", ex);
            }
        }
    }

    private DataViewSchema LoadSchema(EntryInfo e)
    {
        var bytes = ReadEntry(e);
        try
        {
            using var ms = new MemoryStream(bytes, writable: false);
            _catalog.Load(ms, out var schema);
            return schema;
        }
        catch (Exception ex) when (ex is not FusionModelFormatException and not OutOfMemoryException)
        {
            throw new FusionModelFormatException($"The input schema entry '{e.Path}' cannot be read: {ex.Message}", ex);
        }
    }

    internal ITransformer Build(int id)
    {
        if (++_depth > MaxDepth) throw new FusionModelFormatException($"The model nests more than {MaxDepth} levels deep." + Environment.NewLine + "Hint: the manifest was modified; save the model again.");
        try
        {
            var info = _manifest.Components[id];
            ITransformer result;
            if (info.Kind == FusionModelFile.ChainKind)
                result = new TransformerChain<ITransformer>(info.Children.Select(Build).ToArray());
            else if (info.Kind == FusionModelFile.MLNetKind)
                result = LoadBuiltIn(info);
            else
            {
                ComponentRegistry.TryGet(info.Kind, out var loader);
                int newest = ComponentRegistry.VersionOf(info.Kind);
                if (info.Version > newest)
                    throw new FusionModelFormatException($"Component {info.Id} ('{info.Kind}') was written as version {info.Version} (by MLNetFusion {_manifest.LibraryVersion}), " +
                        $"but this MLNetFusion ({FusionModelFile.LibraryVersion}) reads it up to version {newest}." + Environment.NewLine +
                        $"Hint: load the model with MLNetFusion {_manifest.LibraryVersion} or later.");
                var reader = new ComponentReader(this, info);
                try { result = loader(reader); }
                catch (Exception ex) when (ex is not FusionModelFormatException and not OutOfMemoryException)
                {
                    throw reader.Invalid(ex.Message);
                }
            }
            if (result is IDisposable d) _created.Add(d);
            return result;
        }
        finally { _depth--; }
    }

    private ITransformer LoadBuiltIn(ComponentInfo info)
    {
        if (!info.Entries.TryGetValue("model", out var e))
            throw new FusionModelFormatException($"Component {info.Id} ('mlnet') has no model entry." + Environment.NewLine + "Hint: the manifest was modified; save the model again.");
        var bytes = ReadEntry(e);
        try
        {
            using var ms = new MemoryStream(bytes, writable: false);
            return _catalog.Load(ms, out _);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new FusionModelFormatException(
                $"Component {info.Id} (an ML.NET model, entry '{e.Path}') cannot be loaded by ML.NET: {ex.Message}" + Environment.NewLine +
                $"Hint: the loading application needs the ML.NET packages the model was trained with ({string.Join(", ", _manifest.MLNetAssemblies)}).", ex);
        }
    }

    /// <summary>Reads an entry after checking its size and SHA-256 against the manifest.</summary>
    internal byte[] ReadEntry(EntryInfo e)
    {
        if (!_byPath.TryGetValue(e.Path, out var entry))
            throw new FusionModelFormatException($"Entry '{e.Path}' is listed in the manifest but missing from the archive." + Environment.NewLine +
                "Hint: the file is incomplete; save the model again.");
        if (e.Size < 0 || e.Size > MaxEntryBytes || entry.Length != e.Size)
            throw new FusionModelFormatException($"Entry '{e.Path}' has {entry.Length} bytes, the manifest says {e.Size}." + Environment.NewLine +
                "Hint: the file was modified or corrupted after it was saved; save the model again.");
        var bytes = ReadZip(entry, e.Size, MaxEntryBytes);
        if (!string.Equals(Hashing.Sha256(bytes), e.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new FusionModelFormatException($"Entry '{e.Path}' is corrupted: its SHA-256 does not match the manifest." + Environment.NewLine +
                "Hint: the file was modified or corrupted after it was saved; save the model again.");
        return bytes;
    }

    private static byte[] ReadZip(ZipArchiveEntry entry, long size, long max)
    {
        if (size < 0 || size > max)
            throw new FusionModelFormatException($"Entry '{entry.FullName}' declares {size} bytes, more than the {max} allowed." + Environment.NewLine +
                "Hint: the file was tampered with; save the model again.");
        try
        {
            using var s = entry.Open();
            var buffer = new byte[size];
            int read = 0;
            while (read < size)
            {
                int n = s.Read(buffer, read, (int)Math.Min(size - read, 1 << 20));
                if (n == 0) break;
                read += n;
            }
            // Read one byte more: a stream longer than declared is as wrong as a shorter one.
            if (read != size || s.ReadByte() != -1)
                throw new FusionModelFormatException($"Entry '{entry.FullName}' does not have the {size} bytes its header declares." + Environment.NewLine +
                    "Hint: the file is truncated or corrupted; save the model again.");
            return buffer;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw new FusionModelFormatException($"Entry '{entry.FullName}' cannot be decompressed: {ex.Message}" + Environment.NewLine +
                "Hint: the file is truncated or corrupted; save the model again.", ex);
        }
    }

    public void Dispose() => _zip.Dispose();
}
