using System.Runtime.InteropServices;

namespace MLNetFusion.Runtime;

/// <summary>
/// Keeps the native heap that libtorch allocates from bounded on Linux (glibc).
/// </summary>
/// <remarks>
/// glibc serves a large allocation with its own mapping, but after such a mapping is freed it raises its threshold to
/// that size (up to 32 MiB), so from then on the tensors of a training step (embedding gradients of 16 MiB, activations
/// of a few MiB) come from its arenas, whose freed space fragments and stays resident: the same one-epoch network fit on
/// 16,000 rows peaked at several times its working set, differently from run to run. A fixed threshold (4 MiB, which
/// turns off that adjustment) and a 64 MiB trim threshold and top pad (so the arenas are not grown and shrunk on every
/// step) keep it near the working set with the same results (measured in docs/benchmarks.md).
/// Applied once when MLNetFusion first initialises TorchSharp. It is process-wide, so it is left alone when the user set
/// any of glibc's <c>MALLOC_MMAP_THRESHOLD_</c>, <c>MALLOC_TRIM_THRESHOLD_</c>, <c>MALLOC_TOP_PAD_</c> variables (theirs
/// win), and when <c>MLNETFUSION_NATIVE_HEAP=default</c>.
/// </remarks>
internal static class NativeHeap
{
    /// <summary>Set to <c>default</c> to leave glibc's allocator settings as they are.</summary>
    public const string Variable = "MLNETFUSION_NATIVE_HEAP";

    /// <summary>Allocations at least this large get their own mapping (returned to the system when freed).</summary>
    public const int MmapThresholdBytes = 4 << 20;

    /// <summary>Free space at the top of a heap kept before it is returned, and extra space taken when it grows.</summary>
    public const int TrimThresholdBytes = 64 << 20;

    private const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;
    private static readonly string[] UserVariables = { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_" };

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(UIntPtr pad);

    /// <summary>Whether <see cref="Bound"/> changed the allocator's settings in this process.</summary>
    public static bool IsBounded { get; private set; }

    /// <summary>Applies the settings above (once; nothing off glibc, or when the user chose their own).</summary>
    internal static void Bound()
    {
        if (IsBounded || !OperatingSystem.IsLinux()) return;
        if (string.Equals(Environment.GetEnvironmentVariable(Variable), "default", StringComparison.OrdinalIgnoreCase)) return;
        if (UserVariables.Any(v => Environment.GetEnvironmentVariable(v) != null)) return;
        try
        {
            IsBounded = Mallopt(M_MMAP_THRESHOLD, MmapThresholdBytes) == 1
                & Mallopt(M_TRIM_THRESHOLD, TrimThresholdBytes) == 1
                & Mallopt(M_TOP_PAD, TrimThresholdBytes) == 1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { }   // musl and others: nothing to do
    }

    /// <summary>Returns freed heap pages to the system (glibc's <c>malloc_trim(0)</c>); nothing off glibc.</summary>
    public static void Trim()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(UIntPtr.Zero); }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { }
    }
}
