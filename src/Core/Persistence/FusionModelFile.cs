using System.Reflection;

namespace MLNetFusion.Persistence;

/// <summary>Constants of the fusion model file format (a zip archive with a JSON manifest).</summary>
/// <remarks>
/// <list type="table">
/// <item><term><c>manifest.json</c></term><description>Format name and version, library/ML.NET/TorchSharp versions, the component tree, and each entry's size and SHA-256.</description></item>
/// <item><term><c>schema.zip</c></term><description>The input schema, in ML.NET's own model format.</description></item>
/// <item><term><c>components/&lt;id&gt;/model.zip</c></term><description>A built-in ML.NET transformer or chain, in ML.NET's own format (<c>mlContext.Model.Save</c>).</description></item>
/// <item><term><c>components/&lt;id&gt;/config</c>, <c>weights</c></term><description>An MLNetFusion component: JSON configuration and TorchSharp tensors (raw bytes, names, dtypes and shapes).</description></item>
/// </list>
/// </remarks>
internal static class FusionModelFile
{
    /// <summary>The <c>format</c> value in every manifest.</summary>
    public const string FormatName = "MLNetFusion.Model";

    /// <summary>The format version this library writes, and the newest it reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>The manifest's entry name.</summary>
    public const string ManifestEntry = "manifest.json";

    internal const string SchemaEntry = "schema.zip";
    internal const string ChainKind = "chain";
    internal const string MLNetKind = "mlnet";

    /// <summary>This library's version, as written to manifests.</summary>
    public static string LibraryVersion { get; } = ProductVersion(typeof(FusionModelFile).Assembly);

    /// <summary>An assembly's product version (e.g. ML.NET's 5.0.1, where the assembly version is 1.0.0.0).</summary>
    internal static string ProductVersion(Assembly assembly)
        => assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
            ?? assembly.GetName().Version?.ToString() ?? "0";

    internal static bool IsMLNetAssembly(string name)
        => (name == "Microsoft.ML" || name.StartsWith("Microsoft.ML.", StringComparison.Ordinal)) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '.');
}
