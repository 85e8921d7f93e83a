using System.Buffers.Binary;
using System.Text;
using MLNetFusion.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Persistence;

/// <summary>
/// Writes and reads a TorchSharp module's state (parameters and buffers) as raw little-endian bytes with names, dtypes
/// and shapes. Reading is fully managed and checks every name, dtype and shape against the module it fills, so the
/// weights come back bit for bit and a damaged entry never reaches native code.
/// </summary>
internal static class TensorStore
{
    private static readonly byte[] Magic = "MLNFTS01"u8.ToArray();

    public static byte[] Write(nn.Module module)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true);
        var state = module.state_dict();
        w.Write(Magic);
        w.Write(state.Count);
        foreach (var (name, t) in state)
        {
            using var cpu = t.detach().cpu().contiguous();
            w.Write(name);
            w.Write((int)cpu.dtype);
            w.Write((int)cpu.shape.Length);
            foreach (var d in cpu.shape) w.Write(d);
            var bytes = cpu.bytes;
            w.Write((long)bytes.Length);
            w.Write(bytes);
        }
        w.Flush();
        return ms.ToArray();
    }

    public static void Read(nn.Module module, byte[] data, string entry)
    {
        FusionModelFormatException Bad(string what) => new($"Entry '{entry}' is damaged: {what}." + Environment.NewLine +
            "Hint: the file was modified or truncated after it was saved; save the model again.");
        var state = module.state_dict();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using var ms = new MemoryStream(data, writable: false);
        using var r = new BinaryReader(ms, Encoding.UTF8);
        try
        {
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) throw Bad("it is not an MLNetFusion tensor store");
            int count = r.ReadInt32();
            if (count != state.Count) throw Bad($"it holds {count} tensors, the network has {state.Count}");
            using var _ = no_grad();
            for (int i = 0; i < count; i++)
            {
                string name = r.ReadString();
                if (!seen.Add(name)) throw Bad($"tensor '{name}' appears twice");
                if (!state.TryGetValue(name, out var target))
                {
                    var unread = state.Keys.Where(k => !seen.Contains(k)).ToList();
                    throw new FusionModelFormatException($"Entry '{entry}' holds tensor '{name}', which this version's network does not have " +
                        $"(it expects {string.Join(", ", unread.Take(8).Select(k => $"'{k}'"))}{(unread.Count > 8 ? ", …" : "")})." + Environment.NewLine +
                        "Hint: the file was written by an MLNetFusion version whose network had other parts (a version mismatch), or it was modified; " +
                        "load it with the version that wrote it (see the manifest's libraryVersion), or save the model again.");
                }
                var dtype = (ScalarType)r.ReadInt32();
                int rank = r.ReadInt32();
                if (dtype != target.dtype || rank != target.shape.Length) throw Bad($"tensor '{name}' has the wrong type or rank");
                for (int d = 0; d < rank; d++)
                    if (r.ReadInt64() != target.shape[d]) throw Bad($"tensor '{name}' has the wrong shape");
                long length = r.ReadInt64();
                long expected = target.numel() * target.ElementSize;
                if (length != expected || length > ms.Length - ms.Position) throw Bad($"tensor '{name}' has {length} bytes, expected {expected}");
                var bytes = r.ReadBytes((int)length);
                if (!target.is_contiguous()) throw Bad($"tensor '{name}' is not contiguous in the network");
                target.bytes = bytes;
            }
            if (ms.Position != ms.Length) throw Bad("it has trailing bytes");
            ModalityEncoder.ResetInferenceForms(module);
        }
        catch (EndOfStreamException) { throw Bad("it ends early"); }
    }
}
