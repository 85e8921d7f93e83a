using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetFusion.Persistence;

/// <summary>The manifest at the root of a fusion model file (<c>manifest.json</c>).</summary>
internal sealed class ModelManifest
{
    /// <summary>Identifies the file type.</summary>
    public string Format { get; set; } = "";
    /// <summary>Version of the file layout; readers refuse newer versions.</summary>
    public int FormatVersion { get; set; }
    /// <summary>MLNetFusion version that wrote the file.</summary>
    public string LibraryVersion { get; set; } = "";
    /// <summary>Microsoft.ML version that wrote the built-in parts.</summary>
    public string MLNetVersion { get; set; } = "";
    /// <summary>TorchSharp version that wrote the weights.</summary>
    public string TorchSharpVersion { get; set; } = "";
    /// <summary>When the file was written (UTC, ISO 8601).</summary>
    public string CreatedUtc { get; set; } = "";
    /// <summary>Entry holding the input schema (an ML.NET model of an empty chain), or null when none was saved.</summary>
    public EntryInfo? InputSchema { get; set; }
    /// <summary>Input columns that ML.NET cannot serialise (e.g. images) and that were left out of <see cref="InputSchema"/>.</summary>
    public List<string> OmittedInputColumns { get; set; } = new();
    /// <summary>Id of the root component.</summary>
    public int Root { get; set; }
    /// <summary>Every component, indexed by id.</summary>
    public List<ComponentInfo> Components { get; set; } = new();
    /// <summary>ML.NET assemblies holding the built-in components' loaders.</summary>
    public List<string> MLNetAssemblies { get; set; } = new();
}

/// <summary>One component (a transformer) in the manifest.</summary>
internal sealed class ComponentInfo
{
    /// <summary>Index in <see cref="ModelManifest.Components"/>.</summary>
    public int Id { get; set; }
    /// <summary>Allow-listed component kind (e.g. <c>chain</c>, <c>mlnet</c>, <c>MLNetFusion.FusionPrediction</c>).</summary>
    public string Kind { get; set; } = "";
    /// <summary>
    /// The component's own version (<c>ComponentRegistry.Register</c>): what its configuration and entries hold. Files
    /// written before components were versioned have none (0), read as version 1.
    /// </summary>
    public int Version { get; set; }
    /// <summary>The .NET type it was saved from (informational; never used to create objects).</summary>
    public string? ClrType { get; set; }
    /// <summary>Child component ids (chain links, late-fusion steps).</summary>
    public List<int> Children { get; set; } = new();
    /// <summary>The component's entries, by short name.</summary>
    public Dictionary<string, EntryInfo> Entries { get; set; } = new();
}

/// <summary>An archive entry with its size and SHA-256, checked before anything reads it.</summary>
internal sealed class EntryInfo
{
    /// <summary>Path inside the archive.</summary>
    public string Path { get; set; } = "";
    /// <summary>Uncompressed size in bytes.</summary>
    public long Size { get; set; }
    /// <summary>Lower-case hex SHA-256 of the content.</summary>
    public string Sha256 { get; set; } = "";
}

/// <summary>JSON settings shared by the manifest and component configurations.</summary>
internal static class PersistenceJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // Enums are written by name and read only by name: a number (say 1000000000 for a merge operation) is not a value.
        Converters = { new JsonStringEnumConverter(namingPolicy: null, allowIntegerValues: false) },
        MaxDepth = 32,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
