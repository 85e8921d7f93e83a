using System.Buffers.Binary;
using System.Text;
using MLNetFusion.Runtime;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MLNetFusion.Tests;

public class TorchRuntimeTests
{
    [Fact]
    public void TinyTorchSharpModelTrains()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        random.manual_seed(0);
        // XOR needs a hidden layer: the loss can only fall far if autograd, the optimiser and libtorch all work.
        var x = tensor(new float[] { 0, 0, 0, 1, 1, 0, 1, 1 }, new long[] { 4, 2 });
        var y = tensor(new float[] { 0, 1, 1, 0 }, new long[] { 4, 1 });
        var model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1));
        var opt = optim.Adam(model.parameters(), 0.05);
        float first = 0, last = 0;
        for (int i = 0; i < 300; i++)
        {
            opt.zero_grad();
            var loss = nn.functional.binary_cross_entropy_with_logits(model.call(x), y);
            loss.backward();
            opt.step();
            if (i == 0) first = loss.item<float>();
            last = loss.item<float>();
        }
        Assert.True(last < first * 0.1, $"XOR loss went from {first} to {last}");
        var pred = (model.call(x) > 0).to_type(ScalarType.Float32).data<float>().ToArray();
        Assert.Equal(new float[] { 0, 1, 1, 0 }, pred);
    }

    [Fact]
    public void InitialisingTorchFixesGlibcsMmapThreshold()
    {
        // Without it, freed step tensors stay resident in glibc's arenas (a one-epoch fit peaked at 3.2 to 5.6 GB instead of 1.8 GB).
        TorchRuntime.EnsureInitialized();
        bool userSettings = new[] { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_" }.Any(v => Environment.GetEnvironmentVariable(v) != null)
            || string.Equals(Environment.GetEnvironmentVariable(NativeHeap.Variable), "default", StringComparison.OrdinalIgnoreCase);
        bool glibc = OperatingSystem.IsLinux() && File.ReadAllText("/proc/self/maps").Contains("libc.so.6", StringComparison.Ordinal);
        Assert.Equal(glibc && !userSettings, NativeHeap.IsBounded);
    }

    [Fact]
    public void BuildPatchedOnlyTheOutputCopyOfLibTorchSharp()
    {
        if (!OperatingSystem.IsLinux()) return;
        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(output), "the build must copy libLibTorchSharp.so to runtimes/linux-x64/native");
        bool systemHasVersion = SystemLibStdCxxHas("GLIBCXX_3.4.32");
        var outFlags = VersionNeedFlags(File.ReadAllBytes(output), "GLIBCXX_3.4.32");
        if (outFlags is null) return; // a TorchSharp build that does not need the version: nothing to patch
        Assert.Equal(systemHasVersion ? 0 : 2, outFlags.Value & 2);

        // The NuGet cache's copy is never modified.
        string home = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string cached = Path.Combine(home, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (File.Exists(cached)) Assert.Equal(0, VersionNeedFlags(File.ReadAllBytes(cached), "GLIBCXX_3.4.32")!.Value & 2);
    }

    private static bool SystemLibStdCxxHas(string version)
    {
        foreach (var d in new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib" })
        {
            var p = Path.Combine(d, "libstdc++.so.6");
            if (File.Exists(p)) return File.ReadAllBytes(p).AsSpan().IndexOf(Encoding.ASCII.GetBytes(version + "\0")) >= 0;
        }
        return false;
    }

    /// <summary>vna_flags of the version need named <paramref name="name"/>, or null if absent.</summary>
    internal static int? VersionNeedFlags(byte[] elf, string name)
    {
        long shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x28));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3A)), shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3C));
        for (int i = 0; i < shnum; i++)
        {
            long s = shoff + i * shentsize;
            if (BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)s + 4)) != 0x6ffffffe) continue;
            long off = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan((int)s + 24));
            uint link = BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)s + 40)), count = BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)s + 44));
            long strOff = (long)BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan((int)(shoff + link * shentsize) + 24));
            long vn = off;
            for (int e = 0; e < count; e++)
            {
                int cnt = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan((int)vn + 2));
                long aux = vn + BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)vn + 8));
                for (int a = 0; a < cnt; a++)
                {
                    long nameOff = strOff + BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)aux + 8));
                    int end = Array.IndexOf(elf, (byte)0, (int)nameOff);
                    if (Encoding.ASCII.GetString(elf, (int)nameOff, end - (int)nameOff) == name)
                        return BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan((int)aux + 4));
                    aux += BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)aux + 12));
                }
                vn += BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)vn + 12));
            }
        }
        return null;
    }
}
