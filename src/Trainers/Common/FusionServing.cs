using System.Reflection;
using System.Runtime.CompilerServices;

namespace MLNetFusion.Trainers;

/// <summary>Which engine computes a fusion network's predictions (<see cref="FusionPredictionTransformer.Engine"/>).</summary>
public enum FusionServingEngine
{
    /// <summary>
    /// ONNX Runtime where it covers the network (the network's own ONNX export, built in memory the first time the model
    /// scores, on the CPU, with MLNetFusion.Onnx present), else TorchSharp: the model says which and why
    /// (<see cref="FusionPredictionTransformer.EngineInUse"/>, <see cref="FusionPredictionTransformer.EngineNote"/>).
    /// </summary>
    Auto,
    /// <summary>TorchSharp always (the network on its device: the only engine on a GPU).</summary>
    TorchSharp,
    /// <summary>ONNX Runtime always: a network the export does not cover is an error naming why.</summary>
    OnnxRuntime,
}

/// <summary>
/// The process-wide choice of engine for fitted and loaded fusion networks. Both engines give the same probabilities
/// (to 1e-4; the tests check every family). ONNX Runtime uses <see cref="Threads"/> intra-op threads, TorchSharp
/// <c>MLNETFUSION_TORCH_THREADS</c> (both default to the same count).
/// </summary>
public static class FusionServing
{
    /// <summary>The environment variable that sets <see cref="DefaultEngine"/> for a process: <c>auto</c>, <c>torchsharp</c> or <c>onnxruntime</c>.</summary>
    public const string EngineVariable = "MLNETFUSION_ENGINE";

    /// <summary>
    /// The engine of every model whose <see cref="FusionPredictionTransformer.Engine"/> is <c>null</c>: from
    /// <see cref="EngineVariable"/>, else <see cref="FusionServingEngine.Auto"/>. Set it to
    /// <see cref="FusionServingEngine.TorchSharp"/> to opt the whole process out.
    /// </summary>
    public static FusionServingEngine DefaultEngine
    {
        // Read on first use, so a bad value is an error with its hint, not a TypeInitializationException.
        get => _defaultEngine ??= FromEnvironment();
        set => _defaultEngine = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Not an engine.");
    }
    private static FusionServingEngine? _defaultEngine;

    private static readonly AsyncLocal<FusionServingEngine?> Scoped = new();

    /// <summary>The engine in effect here: the innermost <see cref="Use"/> scope's, else <see cref="DefaultEngine"/>.</summary>
    public static FusionServingEngine CurrentEngine => Scoped.Value ?? DefaultEngine;

    /// <summary>
    /// Uses <paramref name="engine"/> for models whose <see cref="FusionPredictionTransformer.Engine"/> is <c>null</c>, in
    /// this asynchronous flow only, until the returned scope is disposed (to compare engines, or to keep one request on
    /// TorchSharp, without changing the process's <see cref="DefaultEngine"/>). The engine is chosen when a cursor or a
    /// <c>PredictionEngine</c> is created.
    /// </summary>
    public static IDisposable Use(FusionServingEngine engine)
    {
        if (!Enum.IsDefined(engine)) throw new ArgumentOutOfRangeException(nameof(engine), engine, "Not an engine.");
        var previous = Scoped.Value;
        Scoped.Value = engine;
        return new Scope(previous);
    }

    private sealed class Scope(FusionServingEngine? previous) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            Scoped.Value = previous;
        }
    }

    /// <summary>
    /// ONNX Runtime's intra-op threads per session; <c>null</c> (default): TorchSharp's thread count
    /// (<c>MLNETFUSION_TORCH_THREADS</c>, else the core count), so both engines use the same cores. Read when a model
    /// builds its session.
    /// </summary>
    public static int? Threads
    {
        get => _threads;
        set
        {
            if (value is <= 0) throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be positive, or null for TorchSharp's thread count.");
            _threads = value;
        }
    }
    private static int? _threads;

    private static FusionServingEngine FromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(EngineVariable);
        if (string.IsNullOrWhiteSpace(text)) return FusionServingEngine.Auto;
        return Enum.TryParse<FusionServingEngine>(text.Trim(), ignoreCase: true, out var e) && Enum.IsDefined(e) ? e
            : throw new InvalidOperationException($"{EngineVariable} is '{text}'; it must be auto, torchsharp or onnxruntime." + Environment.NewLine +
                $"Hint: unset {EngineVariable} for the default (auto).");
    }
}

/// <summary>A network compiled for another engine: probabilities (and the embedding) of a block of rows. Thread-safe.</summary>
internal interface INetworkSession : IDisposable
{
    /// <summary>A runner for one caller (a mapper: one cursor or <c>PredictionEngine</c>), which may keep what it prepares for that caller's buffers until it is disposed.</summary>
    INetworkRunner CreateRunner();
}

/// <summary>Runs a <see cref="INetworkSession"/> for one caller; not thread-safe.</summary>
internal interface INetworkRunner : IDisposable
{
    /// <summary>
    /// Runs the first <paramref name="count"/> rows of <paramref name="inputs"/> (per modality, <c>[rows, size]</c>; an
    /// absent modality's row all NaN) and writes the probabilities (<c>[count, classes]</c>) and, when asked, the embedding
    /// into the buffers, grown when too small. A caller that passes the same arrays call after call (a mapper's) lets the
    /// runner bind them once.
    /// </summary>
    void Run(float[][] inputs, int count, bool wantEmbedding, ref float[] probabilities, ref float[] embedding);
}

/// <summary>
/// Where ONNX Runtime sessions for fusion networks come from: MLNetFusion.Onnx registers the factory when it loads (it is
/// loaded by name the first time one is needed, when the application ships it).
/// </summary>
internal static class NetworkSessions
{
    /// <summary>The assembly that compiles networks for ONNX Runtime.</summary>
    internal const string OnnxAssembly = "MLNetFusion.Onnx";

    private static readonly Lazy<string?> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Builds a session for a network (or throws <see cref="NotSupportedException"/> saying why it cannot); set by MLNetFusion.Onnx.</summary>
    internal static Func<FusionPredictionTransformer, int, INetworkSession>? Factory { get; set; }

    /// <summary>A session for <paramref name="model"/>, or <c>null</c> and why not.</summary>
    internal static INetworkSession? TryCreate(FusionPredictionTransformer model, int threads, out string? whyNot)
    {
        whyNot = Loaded.Value;
        if (whyNot != null) return null;
        try
        {
            whyNot = null;
            return Factory!(model, threads);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A step the export does not cover says so (NotSupportedException); anything else is named by its type.
            whyNot = (ex is NotSupportedException ? "" : ex.GetType().Name + ": ") + ex.Message.Split('\n')[0].TrimEnd();
            return null;
        }
    }

    private static string? Load()
    {
        if (Factory != null) return null;
        try
        {
            var asm = Assembly.Load(new AssemblyName(OnnxAssembly));
            RuntimeHelpers.RunModuleConstructor(asm.ManifestModule.ModuleHandle);
        }
        catch (Exception ex) when (ex is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return $"{OnnxAssembly} is not part of this application (reference the MLNetFusion.Onnx package for ONNX Runtime serving)";
        }
        return Factory == null ? $"{OnnxAssembly} did not register its ONNX Runtime sessions" : null;
    }
}
