using System.Runtime.InteropServices;
using TorchSharp;

namespace MLNetFusion.Runtime;

/// <summary>
/// Initialises TorchSharp once, with an actionable error if its native library cannot load, and controls the number
/// of threads torch uses.
/// </summary>
/// <remarks>
/// Thread count: the environment variable <c>MLNETFUSION_TORCH_THREADS</c> wins; otherwise the number of cores.
/// Call <see cref="SetThreads"/> to change it (it is process-wide, as in PyTorch). Test runners that run several test
/// classes at once should set the variable to 1, or run classes sequentially, so torch does not oversubscribe cores.
/// <para>
/// oneDNN: before libtorch's first use, the kernels that gave NaN on AMD CPUs with AVX-512 are capped at AVX2
/// (<see cref="OneDnn"/> says what was done and why; <c>MLNETFUSION_ONEDNN</c> = <c>auto</c>, <c>native</c>, <c>avx2</c>
/// or <c>off</c> chooses, and a <c>DNNL_MAX_CPU_ISA</c> of the user's own wins).
/// </para>
/// </remarks>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _initialised;

    private static OneDnnState? _oneDnn;

    /// <summary>The environment variable that chooses what MLNetFusion does about oneDNN: <c>auto</c> (default), <c>native</c>, <c>avx2</c> or <c>off</c>.</summary>
    public const string OneDnnVariable = OneDnnGuard.Variable;

    /// <summary>What MLNetFusion did about libtorch's oneDNN kernels in this process, and why (initialises TorchSharp).</summary>
    public static OneDnnState OneDnn
    {
        get { EnsureInitialized(); return _oneDnn!; }
    }

    /// <summary>The environment variable that sets torch's intra-op thread count.</summary>
    public const string ThreadsVariable = "MLNETFUSION_TORCH_THREADS";

    /// <summary>Makes sure libtorch is loaded and the thread count is set. Safe to call often.</summary>
    /// <exception cref="InvalidOperationException">libtorch could not load; the message says how to fix it.</exception>
    public static void EnsureInitialized()
    {
        if (_initialised) return;
        lock (Gate)
        {
            if (_initialised) return;
            NativeHeap.Bound();
            var oneDnn = OneDnnGuard.Begin();   // before libtorch loads: the ISA cap must be in the native environment first
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception ex) when (ex is DllNotFoundException or NotSupportedException or TypeInitializationException or BadImageFormatException)
            {
                var (cause, hint) = DiagnoseNativeLoad(ex);
                throw new InvalidOperationException(
                    "TorchSharp's native library (LibTorchSharp/libtorch) could not be loaded: " + cause + Environment.NewLine + "Hint: " + hint, ex);
            }
            int threads = DefaultThreads();
            torch.set_num_threads(threads);
            DisableUnavailableNnpack();
            _oneDnn = OneDnnGuard.Finish(oneDnn, () => SetContextFlag("_ZN2at7Context20setUserEnabledMkldnnEb", false));
            _initialised = true;
        }
    }

    private const string PackageHint = "the application (not a library) must reference the 'TorchSharp-cpu' package (or a CUDA variant) " +
        "so that runtimes/<rid>/native/ is copied to the output.";

    /// <summary>
    /// The real cause of a failed native load. TorchSharp reports any failure as a missing libtorch package; on Linux the
    /// library is loaded here directly, so the loader's own message (for example a missing GLIBCXX version) is shown.
    /// </summary>
    private static (string cause, string hint) DiagnoseNativeLoad(Exception ex)
    {
        if (!OperatingSystem.IsLinux()) return (ex.Message, PackageHint);
        var candidates = new[] { Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"), Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so") };
        var file = candidates.FirstOrDefault(File.Exists);
        if (file == null) return ($"there is no libLibTorchSharp.so in '{AppContext.BaseDirectory}'.", PackageHint);
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(file));
            return (ex.Message, PackageHint);
        }
        catch (DllNotFoundException load) when (load.Message.Contains("GLIBCXX", StringComparison.Ordinal))
        {
            return ($"'{file}' needs a libstdc++ symbol version this system lacks ({load.Message}).",
                "this system's libstdc++ is older than the one TorchSharp was built against. MLNetFusion's build step patches the copy of " +
                "libLibTorchSharp.so in your output (it marks that version need weak; nothing is changed elsewhere): make sure the app references " +
                "MLNetFusion as a package or imports build/TorchSharpNativeFix.targets, that MLNetFusionPatchTorchSharpNative is not set to false, " +
                "and rebuild; or install GCC 13's libstdc++.");
        }
        catch (DllNotFoundException load)
        {
            return (load.Message, PackageHint);
        }
    }

    private delegate IntPtr GlobalContextFn();
    private delegate void SetFlagFn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);
    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool AvailableFn();

    /// <summary>
    /// On CPUs NNPACK does not support, libtorch tries to initialise it on every eligible convolution and prints
    /// "Could not initialize NNPACK! Reason: Unsupported hardware." each time (thousands of lines for a prediction loop).
    /// TorchSharp does not expose <c>torch.backends.nnpack.set_flags</c>, so on Linux x64 this calls libtorch's
    /// <c>at::globalContext().setUserEnabledNNPACK(false)</c> directly, and only when <c>at::native::_nnpack_available()</c> is false
    /// (so it never costs speed). That check writes the warning once to the process's standard error, which is held
    /// back for the call (<see cref="NativeStderr"/>), so nothing reaches a user's console. Any failure leaves libtorch as it was.
    /// </summary>
    private static void DisableUnavailableNnpack()
    {
        if (!TryLibTorchExport("_ZN2at6native17_nnpack_availableEv", out var availFn)) return;
        bool available;
        using (NativeStderr.Silence())
            available = Marshal.GetDelegateForFunctionPointer<AvailableFn>(availFn)();
        if (!available) SetContextFlag("_ZN2at7Context20setUserEnabledNNPACKEb", false);
    }

    /// <summary>Calls one of libtorch's <c>at::Context</c> setters (<paramref name="setter"/>, a mangled name) on the global context; returns whether it could.</summary>
    private static bool SetContextFlag(string setter, bool value)
    {
        try
        {
            if (!TryLibTorchExport("_ZN2at13globalContextEv", out var ctxFn) || !TryLibTorchExport(setter, out var setFn)) return false;
            var context = Marshal.GetDelegateForFunctionPointer<GlobalContextFn>(ctxFn)();
            Marshal.GetDelegateForFunctionPointer<SetFlagFn>(setFn)(context, value);
            return true;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException or InvalidOperationException or BadImageFormatException)
        {
            return false;
        }
    }

    private static bool TryLibTorchExport(string name, out IntPtr address)
    {
        address = IntPtr.Zero;
        string library = OperatingSystem.IsWindows() ? "torch_cpu.dll" : OperatingSystem.IsMacOS() ? "libtorch_cpu.dylib" : "libtorch_cpu.so";
        try
        {
            return NativeLibrary.TryLoad(library, typeof(torch).Assembly, null, out var lib) && NativeLibrary.TryGetExport(lib, name, out address);
        }
        catch (Exception ex) when (ex is BadImageFormatException or ArgumentException) { return false; }
    }

    /// <summary>
    /// Trains the smallest network that diverged with oneDNN's AVX-512 kernels on AMD EPYC CPUs, and compares every
    /// step's float32 forward pass and gradients with the same network in float64 (libtorch's own kernels): a check that
    /// this machine's convolutions give the right numbers under the oneDNN remedy in effect (<see cref="OneDnn"/>).
    /// </summary>
    /// <param name="runs">Networks trained from a fresh initialisation.</param>
    /// <param name="stepsPerRun">Training steps of each.</param>
    /// <param name="seed">Seed of the weights and batches.</param>
    public static ConvolutionCheckResult CheckConvolutions(int runs = 10, int stepsPerRun = 30, int seed = 1)
    {
        EnsureInitialized();
        return ConvolutionCheck.Run(runs, stepsPerRun, seed);
    }

    /// <summary>The default intra-op thread count: <c>MLNETFUSION_TORCH_THREADS</c> if set, else the core count.</summary>
    public static int DefaultThreads()
    {
        var v = Environment.GetEnvironmentVariable(ThreadsVariable);
        if (!string.IsNullOrWhiteSpace(v) && int.TryParse(v, out int n) && n > 0) return n;
        return Math.Max(1, Environment.ProcessorCount);
    }

    /// <summary>Sets torch's intra-op thread count for the process. Values &lt;= 0 restore the default.</summary>
    public static void SetThreads(int threads)
    {
        EnsureInitialized();
        torch.set_num_threads(threads > 0 ? threads : DefaultThreads());
    }
}
