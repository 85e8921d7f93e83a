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
    private static readonly ConcurrentDictionary<string, Func<ComponentReader, ITransformer>> Loaders = new(StringComparer.Ordinal);

    // MLNetFusion's own assemblies, loaded by name (from this list, never from the file) so their registrations run
    // even when the loading process has not touched them yet.
    private static readonly string[] OwnAssemblies = { "MLNetFusion.Trainers", "MLNetFusion.Transforms" };
    private static readonly Lazy<bool> Ensured = new(LoadOwnAssemblies, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the loader of <paramref name="kind"/>.</summary>
    public static void Register(string kind, Func<ComponentReader, ITransformer> loader) => Loaders[kind] = loader;

    /// <summary>The registered kinds, sorted (for error messages).</summary>
    public static IReadOnlyList<string> Kinds
    {
        get { EnsureOwnAssemblies(); return Loaders.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray(); }
    }

    /// <summary>Finds the loader of <paramref name="kind"/>.</summary>
    public static bool TryGet(string kind, out Func<ComponentReader, ITransformer> loader)
    {
        EnsureOwnAssemblies();
        return Loaders.TryGetValue(kind, out loader!);
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
