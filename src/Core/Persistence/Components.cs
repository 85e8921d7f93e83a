using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Persistence;

/// <summary>
/// An MLNetFusion transformer that can write itself into a fusion model file. Each implementation has a stable
/// <see cref="ComponentKind"/> and registers a loader for it in <see cref="ComponentRegistry"/>.
/// </summary>
internal interface IFusionSaveable
{
    /// <summary>The allow-listed kind written to the manifest.</summary>
    string ComponentKind { get; }

    /// <summary>Writes the component's configuration, weights and children.</summary>
    void Save(ComponentWriter writer);
}

/// <summary>Writes one component's entries and children.</summary>
internal sealed class ComponentWriter
{
    private readonly FusionModelWriter _model;
    private readonly ComponentInfo _info;

    internal ComponentWriter(FusionModelWriter model, ComponentInfo info) { _model = model; _info = info; }

    /// <summary>Writes <paramref name="config"/> as the component's <c>config.json</c>.</summary>
    public void WriteConfig<T>(T config) => WriteEntry("config", JsonSerializer.SerializeToUtf8Bytes(config, PersistenceJson.Options));

    /// <summary>Writes a module's parameters and buffers.</summary>
    public void WriteModule(string name, nn.Module module) => WriteEntry(name, TensorStore.Write(module));

    /// <summary>Writes raw bytes under a short entry name.</summary>
    public void WriteEntry(string name, byte[] data) => _info.Entries[name] = _model.AddEntry($"components/{_info.Id}/{name}", data);

    /// <summary>Saves a child transformer (built-in or MLNetFusion) and records it as the next child.</summary>
    public void WriteChild(ITransformer child) => _info.Children.Add(_model.Add(child));
}

/// <summary>Reads one component's entries and children; every read is size- and checksum-verified first.</summary>
internal sealed class ComponentReader
{
    private readonly FusionModelReader _model;
    private readonly ComponentInfo _info;

    internal ComponentReader(FusionModelReader model, ComponentInfo info) { _model = model; _info = info; }

    /// <summary>The environment (the loading MLContext).</summary>
    public IHostEnvironment Env => _model.Env;

    /// <summary>The component's kind.</summary>
    public string Kind => _info.Kind;

    /// <summary>The version the component was written as (1 for files written before components were versioned); loaders branch on it.</summary>
    public int Version => Math.Max(1, _info.Version);

    /// <summary>The caller's load limits.</summary>
    public FusionModelLoadOptions Limits => _model.Limits;

    /// <summary>Number of children.</summary>
    public int ChildCount => _info.Children.Count;

    /// <summary>Reads the component's <c>config.json</c>.</summary>
    public T ReadConfig<T>() where T : class
    {
        var bytes = ReadEntry("config");
        try
        {
            var config = JsonSerializer.Deserialize<T>(bytes, PersistenceJson.Options) ?? throw Invalid("its configuration is empty");
            // JSON's null reaches a setting the configuration declares non-nullable (a column name, a list): rejected here,
            // not as a NullReferenceException or a missing column at the first Transform.
            var nullability = new System.Reflection.NullabilityInfoContext();   // not thread-safe: one per read
            foreach (var p in typeof(T).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
                if (!p.PropertyType.IsValueType && p.GetIndexParameters().Length == 0 && p.GetValue(config) == null
                    && nullability.Create(p).ReadState == System.Reflection.NullabilityState.NotNull)
                    throw Invalid($"its configuration's '{p.Name}' is null");
            return config;
        }
        catch (JsonException ex) { throw Invalid($"its configuration is not valid JSON ({ex.Message})"); }
    }

    /// <summary>Fills <paramref name="module"/>'s parameters and buffers from entry <paramref name="name"/>.</summary>
    public void ReadModule(string name, nn.Module module) => TensorStore.Read(module, ReadEntry(name), EntryPath(name));

    /// <summary>The size in bytes the manifest declares for entry <paramref name="name"/> (verified against the archive when read).</summary>
    public long EntrySize(string name)
        => _info.Entries.TryGetValue(name, out var e) ? e.Size : throw Invalid($"its entry '{name}' is missing from the manifest");

    /// <summary>Reads a verified entry.</summary>
    public byte[] ReadEntry(string name)
    {
        if (!_info.Entries.TryGetValue(name, out var e)) throw Invalid($"its entry '{name}' is missing from the manifest");
        return _model.ReadEntry(e);
    }

    /// <summary>Loads child <paramref name="index"/>.</summary>
    public ITransformer ReadChild(int index)
    {
        if (index < 0 || index >= _info.Children.Count) throw Invalid($"it needs child {index} but has {_info.Children.Count}");
        return _model.Build(_info.Children[index]);
    }

    /// <summary>An error naming this component.</summary>
    public FusionModelFormatException Invalid(string what) => new(
        $"Component {_info.Id} ('{_info.Kind}') is invalid: {what}." + Environment.NewLine +
        "Hint: the file was modified after it was saved, or written by an incompatible MLNetFusion version; save the model again.");

    private string EntryPath(string name) => _info.Entries.TryGetValue(name, out var e) ? e.Path : name;
}

/// <summary>SHA-256 helper.</summary>
internal static class Hashing
{
    public static string Sha256(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
