using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Runtime;

/// <summary>
/// Where a TorchSharp trainer trains and a model predicts: <c>auto</c> (CUDA when TorchSharp has it, else the CPU),
/// <c>cpu</c>, <c>cuda</c> (the first GPU) or <c>cuda:N</c>.
/// </summary>
/// <remarks>
/// CUDA needs TorchSharp's CUDA build in the app that runs: reference <c>TorchSharp-cuda-linux</c> or
/// <c>TorchSharp-cuda-windows</c> instead of <c>TorchSharp-cpu</c>. Rows are read and batched on the CPU and each batch is
/// copied to the device; model files hold CPU tensors, so a model saved on a GPU loads anywhere.
/// </remarks>
public static class FusionDevice
{
    /// <summary>CUDA when available, else the CPU.</summary>
    public const string Auto = "auto";
    /// <summary>The CPU.</summary>
    public const string Cpu = "cpu";
    /// <summary>The first CUDA GPU (<c>cuda:N</c> names another).</summary>
    public const string Cuda = "cuda";

    /// <summary>Checks the spelling of <paramref name="device"/> and throws <see cref="ArgumentException"/> naming the accepted values.</summary>
    /// <param name="device">The device text; <c>null</c> or empty means <see cref="Auto"/>.</param>
    /// <param name="parameterName">The option's name, for the message.</param>
    public static void Validate(string? device, string parameterName = "Device") => Parse(device, parameterName);

    /// <summary>The torch device <paramref name="device"/> names on this machine.</summary>
    /// <exception cref="InvalidOperationException">CUDA was asked for but TorchSharp has no CUDA backend or no such GPU.</exception>
    public static Device Resolve(string? device)
    {
        var (type, index) = Parse(device, "Device");
        TorchRuntime.EnsureInitialized();
        if (type == null) return cuda.is_available() ? CUDA : CPU;
        if (type == DeviceType.CPU) return CPU;
        if (!cuda.is_available())
            throw new InvalidOperationException($"Device '{device}' was requested, but TorchSharp has no CUDA backend in this app." + Environment.NewLine +
                "Hint: reference TorchSharp-cuda-linux or TorchSharp-cuda-windows instead of TorchSharp-cpu (and a matching NVIDIA driver), or set Device = \"cpu\" or \"auto\".");
        int count = cuda.device_count();
        if (index >= count)
            throw new InvalidOperationException($"Device '{device}' was requested, but this machine has {count} CUDA device(s), numbered from 0." + Environment.NewLine +
                $"Hint: use cuda:0 to cuda:{count - 1}, or \"cuda\" for the first.");
        return new Device(DeviceType.CUDA, index);
    }

    private static (DeviceType? type, int index) Parse(string? device, string parameterName)
    {
        var text = (device ?? "").Trim().ToLowerInvariant();
        if (text is "" or Auto) return (null, 0);
        if (text == Cpu) return (DeviceType.CPU, 0);
        if (text == Cuda) return (DeviceType.CUDA, 0);
        if (text.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n < 64)
            return (DeviceType.CUDA, n);
        throw new ArgumentException($"Unknown device '{device}'." + Environment.NewLine + "Hint: use auto, cpu, cuda or cuda:N (N from 0).", parameterName);
    }
}
