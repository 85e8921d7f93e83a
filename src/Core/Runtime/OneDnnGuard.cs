using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace MLNetFusion.Runtime;

/// <summary>What MLNetFusion did about libtorch's oneDNN (mkldnn) kernels in this process.</summary>
public enum OneDnnRemedy
{
    /// <summary>Nothing: oneDNN runs the best instruction set it finds on this CPU.</summary>
    None,

    /// <summary>oneDNN's instruction set is capped at AVX2 (<c>DNNL_MAX_CPU_ISA=AVX2</c> in the native environment before its first use).</summary>
    CappedAtAvx2,

    /// <summary>libtorch's oneDNN convolutions are off (<c>at::Context::setUserEnabledMkldnn(false)</c>): libtorch's own kernels run.</summary>
    Disabled,

    /// <summary>The user set <c>DNNL_MAX_CPU_ISA</c> themselves; it is left as it is.</summary>
    UserSetting,
}

/// <summary>The oneDNN remedy in effect, and why.</summary>
/// <param name="Remedy">What was done.</param>
/// <param name="Reason">Why, in a sentence (the CPU, the setting that chose it).</param>
/// <param name="CpuHasAvx512">Whether the CPU reports AVX-512 (oneDNN's widest kernels would run without a remedy).</param>
/// <param name="CpuVendor">The CPU's vendor string (<c>AuthenticAMD</c>, <c>GenuineIntel</c>), or empty off x86.</param>
public sealed record OneDnnState(OneDnnRemedy Remedy, string Reason, bool CpuHasAvx512, string CpuVendor)
{
    /// <summary>Whether oneDNN may run its AVX-512 kernels in this process (the CPU has them and nothing caps or disables them).</summary>
    public bool Avx512KernelsActive => CpuHasAvx512 && (Remedy == OneDnnRemedy.None || (Remedy == OneDnnRemedy.UserSetting && !UserCapsBelowAvx512));

    internal bool UserCapsBelowAvx512 { get; init; }
}

/// <summary>
/// Keeps libtorch's oneDNN kernels from running at AVX-512 on CPUs where they give NaN or wrong numbers.
/// </summary>
/// <remarks>
/// On AMD EPYC CPUs with AVX-512 under a hypervisor, libtorch's oneDNN convolutions at any AVX-512 level made small
/// networks' training losses NaN, differently from run to run; capped at AVX2 they did not (issue 41, and upstream
/// pytorch/pytorch#177227, tensorflow/tensorflow#57749). What the cap and the alternatives cost is measured by
/// <c>mlnetfusion-bench --only onednn</c> (docs/benchmarks.md).
/// <para>
/// <c>MLNETFUSION_ONEDNN</c> chooses: <c>auto</c> (default: cap at AVX2 on AMD CPUs that report AVX-512, nothing
/// elsewhere), <c>avx2</c> (cap on any CPU), <c>off</c> (no oneDNN convolutions), <c>native</c> (leave oneDNN alone).
/// A <c>DNNL_MAX_CPU_ISA</c> the user set always wins. The cap must reach the native environment before oneDNN's first
/// primitive: .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not on Unix, so libc's
/// <c>setenv</c> is called. oneDNN reads it at its first primitive, so an app that ran a TorchSharp convolution before
/// MLNetFusion initialised libtorch gets no cap (<see cref="OneDnnState.Reason"/> says when libtorch was loaded first).
/// </para>
/// </remarks>
internal static class OneDnnGuard
{
    public const string Variable = "MLNETFUSION_ONEDNN";
    public const string IsaVariable = "DNNL_MAX_CPU_ISA";
    public const string CappedIsa = "AVX2";

    /// <summary>The CPU's vendor string from CPUID leaf 0, or empty off x86.</summary>
    public static string CpuVendor()
    {
        if (!X86Base.IsSupported) return "";
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<byte> name = stackalloc byte[12];
        BitConverter.TryWriteBytes(name[..4], ebx);
        BitConverter.TryWriteBytes(name[4..8], edx);
        BitConverter.TryWriteBytes(name[8..], ecx);
        return System.Text.Encoding.ASCII.GetString(name);
    }

    /// <summary>Whether the CPU reports AVX-512 Foundation (CPUID leaf 7, EBX bit 16), whatever .NET's own settings say.</summary>
    public static bool CpuHasAvx512()
    {
        if (!X86Base.IsSupported) return false;
        var (maxLeaf, _, _, _) = X86Base.CpuId(0, 0);
        if (maxLeaf < 7) return false;
        var (_, ebx, _, _) = X86Base.CpuId(7, 0);
        return (ebx & (1 << 16)) != 0;
    }

    /// <summary>The remedy <paramref name="setting"/> asks for on this CPU, before libtorch is loaded.</summary>
    internal static (OneDnnRemedy remedy, string reason) Choose(string? setting, string? userIsa, string vendor, bool avx512)
    {
        string cpu = string.IsNullOrEmpty(vendor) ? "this CPU" : $"this {vendor} CPU" + (avx512 ? " with AVX-512" : " without AVX-512");
        if (!string.IsNullOrWhiteSpace(userIsa))
            return (OneDnnRemedy.UserSetting, $"{IsaVariable}={userIsa} was set by the user; MLNetFusion leaves oneDNN as it is.");
        switch ((setting ?? "auto").Trim().ToLowerInvariant())
        {
            case "native":
                return (OneDnnRemedy.None, $"{Variable}=native: oneDNN runs its best kernels on {cpu}.");
            case "avx2":
                return (OneDnnRemedy.CappedAtAvx2, $"{Variable}=avx2: oneDNN is capped at AVX2 on {cpu}.");
            case "off":
                return (OneDnnRemedy.Disabled, $"{Variable}=off: libtorch's own convolutions run instead of oneDNN's on {cpu}.");
            case "" or "auto":
                return avx2Cap(vendor, avx512)
                    ? (OneDnnRemedy.CappedAtAvx2, $"oneDNN is capped at AVX2 on {cpu}: its AVX-512 kernels gave NaN in training on AMD EPYC CPUs (set {Variable}=native to opt out).")
                    : (OneDnnRemedy.None, $"oneDNN runs its best kernels on {cpu}.");
            default:
                throw new InvalidOperationException($"{Variable}='{setting}' is not a oneDNN setting MLNetFusion knows." + Environment.NewLine +
                    $"Hint: set {Variable} to auto (the default), native, avx2 or off, or remove it.");
        }

        static bool avx2Cap(string vendor, bool avx512) => avx512 && vendor == "AuthenticAMD";
    }

    /// <summary>
    /// Chooses the remedy and, for the cap, sets <c>DNNL_MAX_CPU_ISA</c> in the native environment. Called once, by
    /// <see cref="TorchRuntime.EnsureInitialized"/>, before it loads libtorch; <see cref="Finish"/> completes it after.
    /// </summary>
    internal static OneDnnState Begin()
    {
        string vendor = CpuVendor();
        bool avx512 = CpuHasAvx512();
        string? userIsa = NativeGetEnv(IsaVariable);
        var (remedy, reason) = Choose(Environment.GetEnvironmentVariable(Variable), userIsa, vendor, avx512);
        string isa = userIsa?.Trim() ?? "";
        bool userCapsBelow = remedy == OneDnnRemedy.UserSetting && !isa.StartsWith("AVX512", StringComparison.OrdinalIgnoreCase)
            && !isa.StartsWith("AVX10", StringComparison.OrdinalIgnoreCase) && !isa.Equals("ALL", StringComparison.OrdinalIgnoreCase);
        // oneDNN reads the cap at its first primitive, not when libtorch loads: an app that loaded TorchSharp first still
        // gets it unless it already ran a convolution. Turning oneDNN off instead would cost far more (docs/benchmarks.md).
        if (remedy == OneDnnRemedy.CappedAtAvx2 && LibTorchLoaded())
            reason += $" libtorch was loaded before MLNetFusion initialised it: if a convolution already ran, the cap comes too late (call TorchRuntime.EnsureInitialized() before using TorchSharp, or set {IsaVariable}={CappedIsa} before the process starts).";
        if (remedy == OneDnnRemedy.CappedAtAvx2 && !NativeSetEnv(IsaVariable, CappedIsa))
        {
            remedy = OneDnnRemedy.Disabled;
            reason += " The native environment could not be set, so oneDNN's convolutions are off instead.";
        }
        return new OneDnnState(remedy, reason, avx512, vendor) { UserCapsBelowAvx512 = userCapsBelow };
    }

    /// <summary>Completes <paramref name="state"/> once libtorch is loaded: turns oneDNN's convolutions off when that is the remedy.</summary>
    /// <param name="state">What <see cref="Begin"/> chose.</param>
    /// <param name="disableMkldnn">Turns libtorch's oneDNN convolutions off; returns whether it could.</param>
    internal static OneDnnState Finish(OneDnnState state, Func<bool> disableMkldnn)
    {
        if (state.Remedy != OneDnnRemedy.Disabled || disableMkldnn()) return state;
        return state with
        {
            Remedy = OneDnnRemedy.None,
            Reason = state.Reason + $" This libtorch does not export at::Context::setUserEnabledMkldnn, so nothing could be done: set {IsaVariable}={CappedIsa} before starting the process.",
        };
    }

    /// <summary>Whether a libtorch CPU library is already mapped into this process.</summary>
    internal static bool LibTorchLoaded()
    {
        try
        {
            using var process = Process.GetCurrentProcess();
            foreach (ProcessModule m in process.Modules)
            {
                var name = m.ModuleName ?? "";
                if (name.StartsWith("libtorch_cpu", StringComparison.Ordinal) || name.Equals("torch_cpu.dll", StringComparison.OrdinalIgnoreCase)) return true;
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception or PlatformNotSupportedException) { }
        return false;
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int LibcSetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr LibcGetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    /// <summary>The variable as native code sees it (libc's environment on Unix).</summary>
    internal static string? NativeGetEnv(string name)
    {
        if (OperatingSystem.IsWindows()) return Environment.GetEnvironmentVariable(name);
        try
        {
            var p = LibcGetEnv(name);
            return p == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(p);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { return Environment.GetEnvironmentVariable(name); }
    }

    /// <summary>Sets the variable where native code reads it (libc's <c>setenv</c> on Unix; the process environment on Windows).</summary>
    private static bool NativeSetEnv(string name, string value)
    {
        if (OperatingSystem.IsWindows()) { Environment.SetEnvironmentVariable(name, value); return true; }
        try { return LibcSetEnv(name, value, 1) == 0; }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }
}
