using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.ML;

namespace MLNetFusion.Persistence;

/// <summary>
/// The allow-list of component kinds a fusion model file may name. Each MLNetFusion assembly registers its own kinds
/// from its module initializer; loading never creates a type named by the file, only the loaders registered here.
/// </summary>
internal static class ComponentRegistry
{
    private static readonly ConcurrentDictionary<string, (Func<ComponentReader, ITransformer> loader, int version)> Loaders = new(StringComparer.Ordinal);

    // MLNetFusion's own assemblies, loaded by name (from this list, never from the file) so their registrations run
    // even when the loading process has not touched them yet.
    private static readonly string[] OwnAssemblies = { "MLNetFusion.Trainers", "MLNetFusion.Transforms", "MLNetFusion.Pretrained" };
    private static readonly Lazy<bool> Ensured = new(LoadOwnAssemblies, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the loader of <paramref name="kind"/>.</summary>
    /// <param name="kind">The component kind a file names.</param>
    /// <param name="loader">Reads the component; it branches on <see cref="ComponentReader.Version"/> for older files.</param>
    /// <param name="version">The version this library writes, and the newest it reads (as ML.NET's <c>VersionInfo</c>). A
    /// component's version goes up whenever what it writes changes; its loader keeps reading every older version.</param>
    public static void Register(string kind, Func<ComponentReader, ITransformer> loader, int version = 1)
    {
        if (version < 1) throw new ArgumentOutOfRangeException(nameof(version), version, "Component versions start at 1.");
        Loaders[kind] = (loader, version);
    }

    /// <summary>The version this library writes for <paramref name="kind"/> (1 for a kind it does not know).</summary>
    public static int VersionOf(string kind)
    {
        EnsureOwnAssemblies();
        return Loaders.TryGetValue(kind, out var entry) ? entry.version : 1;
    }

    /// <summary>The registered kinds, sorted (for error messages).</summary>
    public static IReadOnlyList<string> Kinds
    {
        get { EnsureOwnAssemblies(); return Loaders.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray(); }
    }

    /// <summary>Finds the loader of <paramref name="kind"/>.</summary>
    public static bool TryGet(string kind, out Func<ComponentReader, ITransformer> loader)
    {
        EnsureOwnAssemblies();
        bool found = Loaders.TryGetValue(kind, out var entry);
        loader = entry.loader;
        return found;
    }

    // Once per process; concurrent loaders wait until every registration has run.
    private static void EnsureOwnAssemblies() => _ = Ensured.Value;

    private static bool LoadOwnAssemblies()
    {
        foreach (var name in OwnAssemblies)
        {
            try
            {
                var asm = Assembly.Load(new AssemblyName(name));
                RuntimeHelpers.RunModuleConstructor(asm.ManifestModule.ModuleHandle);
            }
            catch (FileNotFoundException)
            {
                // The app does not ship this MLNetFusion assembly, so none of its components can be in a file it made.
            }
        }
        return true;
    }
}
