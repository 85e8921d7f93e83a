using System.Buffers.Binary;

namespace MLNetFusion.Transforms.Audio;

/// <summary>Sample encodings <see cref="WavWriter"/> can write.</summary>
public enum WavEncoding
{
    /// <summary>8-bit unsigned PCM.</summary>
    Pcm8,
    /// <summary>16-bit signed PCM.</summary>
    Pcm16,
    /// <summary>24-bit signed PCM.</summary>
    Pcm24,
    /// <summary>32-bit signed PCM.</summary>
    Pcm32,
    /// <summary>32-bit IEEE float.</summary>
    Float32,
    /// <summary>64-bit IEEE float.</summary>
    Float64,
}

/// <summary>Writes WAV files (used by the generated default dataset and the decoder's tests).</summary>
public static class WavWriter
{
    /// <summary>Encodes interleaved samples (<c>frames × channels</c>, in [-1, 1]) as WAV bytes.</summary>
    /// <param name="interleaved">Samples, channel-interleaved.</param>
    /// <param name="sampleRate">Sample rate.</param>
    /// <param name="channels">Channel count.</param>
    /// <param name="encoding">Sample encoding.</param>
    /// <param name="extensible">Write a WAVE_FORMAT_EXTENSIBLE header.</param>
    /// <param name="extraChunks">Extra chunks (id, payload) written before the data chunk, padded to even sizes.</param>
    public static byte[] Encode(ReadOnlySpan<float> interleaved, int sampleRate, int channels = 1, WavEncoding encoding = WavEncoding.Pcm16,
        bool extensible = false, IEnumerable<(string id, byte[] payload)>? extraChunks = null)
    {
        int bytesPer = encoding switch { WavEncoding.Pcm8 => 1, WavEncoding.Pcm16 => 2, WavEncoding.Pcm24 => 3, WavEncoding.Pcm32 => 4, WavEncoding.Float32 => 4, _ => 8 };
        int code = encoding is WavEncoding.Float32 or WavEncoding.Float64 ? WavDecoder.FormatIeeeFloat : WavDecoder.FormatPcm;
        int blockAlign = bytesPer * channels;
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write("RIFF"u8); w.Write(0); w.Write("WAVE"u8);
        w.Write("fmt "u8);
        w.Write(extensible ? 40 : 16);
        w.Write((ushort)(extensible ? WavDecoder.FormatExtensible : code));
        w.Write((ushort)channels); w.Write(sampleRate); w.Write(sampleRate * blockAlign); w.Write((ushort)blockAlign); w.Write((ushort)(bytesPer * 8));
        if (extensible)
        {
            w.Write((ushort)22); w.Write((ushort)(bytesPer * 8)); w.Write(channels == 1 ? 4 : 3);
            w.Write((ushort)code); w.Write(new byte[] { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 });
        }
        foreach (var (id, payload) in extraChunks ?? Array.Empty<(string, byte[])>())
        {
            w.Write(System.Text.Encoding.ASCII.GetBytes(id.PadRight(4)[..4])); w.Write(payload.Length); w.Write(payload);
            if ((payload.Length & 1) == 1) w.Write((byte)0);
        }
        w.Write("data"u8); w.Write(interleaved.Length * bytesPer);
        Span<byte> buf = stackalloc byte[8];
        foreach (float f in interleaved)
        {
            double v = Math.Clamp(f, -1f, 1f);
            switch (encoding)
            {
                case WavEncoding.Pcm8: w.Write((byte)Math.Clamp(Math.Round(v * 128 + 128), 0, 255)); break;
                case WavEncoding.Pcm16: w.Write((short)Math.Clamp(Math.Round(v * 32768), short.MinValue, short.MaxValue)); break;
                case WavEncoding.Pcm24:
                    int i24 = (int)Math.Clamp(Math.Round(v * 8388608), -8388608, 8388607);
                    w.Write((byte)i24); w.Write((byte)(i24 >> 8)); w.Write((byte)(i24 >> 16)); break;
                case WavEncoding.Pcm32: w.Write((int)Math.Clamp(Math.Round(v * 2147483648.0), int.MinValue, int.MaxValue)); break;
                case WavEncoding.Float32: w.Write(f); break;
                default: w.Write((double)f); break;
            }
        }
        if ((ms.Length & 1) == 1) w.Write((byte)0);
        w.Flush();
        var bytes = ms.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), bytes.Length - 8);
        return bytes;
    }

    /// <summary>Writes a mono 16-bit PCM (or other encoding) WAV file.</summary>
    public static void Write(string path, ReadOnlySpan<float> samples, int sampleRate, WavEncoding encoding = WavEncoding.Pcm16)
        => File.WriteAllBytes(path, Encode(samples, sampleRate, 1, encoding));
}
