using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNetFusion.Runtime;

/// <summary>
/// Reaches the <see cref="IHostEnvironment"/> (the <see cref="MLContext"/>'s seed, log and cancellation) behind an
/// ML.NET catalog, so that catalog extension methods such as
/// <c>mlContext.MulticlassClassification.Trainers.FusionMlp(...)</c> behave like ML.NET's own.
/// </summary>
/// <remarks>
/// ML.NET keeps the catalog's environment behind the internal interface <c>Microsoft.ML.Data.IInternalCatalog</c>
/// (its own packages use the internal <c>CatalogUtils.GetEnvironment</c>). There is no public route from a catalog to
/// its context, so this is the one place in MLNetFusion that uses reflection into ML.NET. The test
/// <c>MLNetInternalsGuardTests.CatalogEnvironmentIsReachableAndIsTheContextsOwn</c> fails loudly if an ML.NET update moves it.
/// </remarks>
public static class FusionEnvironment
{
    private const string InternalCatalogInterface = "Microsoft.ML.Data.IInternalCatalog";

    /// <summary>Returns the environment that owns <paramref name="catalog"/>.</summary>
    /// <exception cref="InvalidOperationException">ML.NET changed its internals; the message says which version.</exception>
    public static IHostEnvironment FromCatalog(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        if (catalog is IHostEnvironment direct) return direct;
        var iface = catalog.GetType().GetInterface(InternalCatalogInterface);
        var prop = iface?.GetProperty("Environment", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        if (prop?.GetValue(catalog) is IHostEnvironment env) return env;
        throw new InvalidOperationException(
            $"MLNetFusion could not reach the MLContext behind catalog '{catalog.GetType().FullName}' " +
            $"(ML.NET {typeof(MLContext).Assembly.GetName().Version}): '{InternalCatalogInterface}.Environment' was not found. " +
            "Hint: this MLNetFusion build supports Microsoft.ML 6.0.x; use the constructors that take an MLContext directly.");
    }

}
