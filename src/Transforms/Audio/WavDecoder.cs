using System.Buffers.Binary;

namespace MLNetFusion.Transforms.Audio;

/// <summary>A decoded clip: mono samples (PCM in [-1, 1]; IEEE float as stored, finite and within ±<see cref="WavDecoder.MaxFloatAmplitude"/>) and their sample rate.</summary>
/// <param name="Samples">Mono samples (multi-channel input is averaged).</param>
/// <param name="SampleRate">Samples per second.</param>
/// <param name="Channels">Channels in the file before the downmix.</param>
/// <param name="FormatCode">The WAVE format code (1 PCM, 3 IEEE float), after resolving WAVE_FORMAT_EXTENSIBLE.</param>
/// <param name="BitsPerSample">Bits per sample in the file.</param>
public sealed record WavClip(float[] Samples, int SampleRate, int Channels, int FormatCode, int BitsPerSample);

/// <summary>A WAV file that cannot be decoded. The message names the file and says what is wrong.</summary>
public sealed class WavFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WavFormatException(string message) : base(message) { }
}

/// <summary>
/// Decodes RIFF/WAVE: PCM 8/16/24/32-bit integer, 32/64-bit IEEE float, <c>WAVE_FORMAT_EXTENSIBLE</c> wrapping either,
/// any number of channels (averaged to mono). Unknown chunks are skipped, honouring RIFF's pad byte after odd-sized
/// chunks. Truncated data, a missing <c>fmt </c>/<c>data</c> chunk, zero channels and unsupported codes are errors.
/// </summary>
public static class WavDecoder
{
    /// <summary>PCM integer samples.</summary>
    public const int FormatPcm = 1;
    /// <summary>IEEE float samples.</summary>
    public const int FormatIeeeFloat = 3;
    /// <summary>WAVE_FORMAT_EXTENSIBLE; the real code is in the sub-format GUID.</summary>
    public const int FormatExtensible = 0xFFFE;

    /// <summary>Decodes the file at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="WavFormatException">The file is not a decodable WAV file.</exception>
    public static WavClip Decode(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The checks run only when the read failed: a clip costs one open, not three file-system lookups.
            if (Directory.Exists(path)) throw new WavFormatException($"'{path}' is a directory, not a WAV file.");
            if (!File.Exists(path)) throw new FileNotFoundException($"Audio file '{path}' does not exist.", path);
            throw;
        }
        return Decode(bytes, path);
    }

    /// <summary>Decodes WAV bytes. <paramref name="name"/> is used in error messages.</summary>
    public static WavClip Decode(ReadOnlySpan<byte> bytes, string name = "<stream>")
    {
        if (bytes.Length < 12 || !bytes[..4].SequenceEqual("RIFF"u8) || !bytes.Slice(8, 4).SequenceEqual("WAVE"u8))
            throw new WavFormatException($"'{name}' is not a RIFF/WAVE file (it does not start with 'RIFF....WAVE').");

        int format = -1, channels = 0, rate = 0, blockAlign = 0, bits = 0;
        bool haveFmt = false;
        int pos = 12;
        while (pos + 8 <= bytes.Length)
        {
            var id = bytes.Slice(pos, 4);
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(pos + 4, 4));
            int body = pos + 8;
            long remaining = bytes.Length - body;
            if (id.SequenceEqual("fmt "u8))
            {
                if (size < 16 || size > remaining)
                    throw new WavFormatException($"'{name}': the 'fmt ' chunk is truncated ({remaining} of {size} bytes present).");
                var f = bytes.Slice(body, (int)size);
                format = BinaryPrimitives.ReadUInt16LittleEndian(f);
                channels = BinaryPrimitives.ReadUInt16LittleEndian(f[2..]);
                rate = BinaryPrimitives.ReadInt32LittleEndian(f[4..]);
                blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(f[12..]);
                bits = BinaryPrimitives.ReadUInt16LittleEndian(f[14..]);
                if (format == FormatExtensible)
                {
                    if (size < 40) throw new WavFormatException($"'{name}': WAVE_FORMAT_EXTENSIBLE needs a 40-byte 'fmt ' chunk, got {size} bytes.");
                    format = BinaryPrimitives.ReadUInt16LittleEndian(f[24..]);   // first two bytes of the sub-format GUID
                }
                haveFmt = true;
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (!haveFmt) throw new WavFormatException($"'{name}': the 'data' chunk comes before any 'fmt ' chunk.");
                long dataSize = size == uint.MaxValue ? remaining : size;   // streaming writers leave 0xFFFFFFFF
                if (dataSize > remaining)
                    throw new WavFormatException($"'{name}' is truncated: the 'data' chunk declares {dataSize} bytes but only {remaining} remain.");
                return DecodeSamples(bytes.Slice(body, (int)dataSize), name, format, channels, rate, blockAlign, bits);
            }
            long next = (long)body + size + (size & 1);   // RIFF chunks are padded to even sizes
            if (next > bytes.Length)
                throw new WavFormatException($"'{name}' is truncated: chunk '{System.Text.Encoding.ASCII.GetString(id)}' declares {size} bytes but only {remaining} remain.");
            pos = (int)next;
        }
        throw new WavFormatException(haveFmt
            ? $"'{name}' has no 'data' chunk (the file may be truncated)."
            : $"'{name}' has no 'fmt ' chunk (the file may be truncated).");
    }

    private static WavClip DecodeSamples(ReadOnlySpan<byte> data, string name, int format, int channels, int rate, int blockAlign, int bits)
    {
        if (channels <= 0) throw new WavFormatException($"'{name}' declares zero channels.");
        if (rate <= 0) throw new WavFormatException($"'{name}' declares an invalid sample rate {rate}.");
        if (format != FormatPcm && format != FormatIeeeFloat)
            throw new WavFormatException($"'{name}' uses WAVE format code {format} ({FormatName(format)}), which is not supported. " +
                "Supported: PCM (1) and IEEE float (3), plain or inside WAVE_FORMAT_EXTENSIBLE. Hint: convert it, e.g. 'sox in.wav -e signed -b 16 out.wav'.");
        int container = blockAlign / channels;
        if (container <= 0 || blockAlign % channels != 0)
            throw new WavFormatException($"'{name}': block align {blockAlign} does not fit {channels} channels.");
        bool ok = format == FormatPcm ? container is 1 or 2 or 3 or 4 : container is 4 or 8;
        if (!ok || bits > container * 8 || bits == 0)
            throw new WavFormatException($"'{name}': {bits}-bit samples in {container}-byte containers are not supported for {FormatName(format)}.");
        if (data.Length % blockAlign != 0)
            throw new WavFormatException($"'{name}' is truncated: its data holds {data.Length} bytes, not a whole number of {blockAlign}-byte frames.");

        int frames = data.Length / blockAlign;
        if (frames == 0) throw new WavFormatException($"'{name}' holds no samples (its 'data' chunk is empty).");
        var mono = new float[frames];
        if (format == FormatPcm && container == 2 && channels == 1 && BitConverter.IsLittleEndian)
        {
            // Mono 16-bit PCM, the common case: the same values as the general loop (1/32768 is a power of two, so the
            // product equals the quotient), without a per-sample dispatch.
            var pcm = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, short>(data);
            for (int i = 0; i < frames; i++) mono[i] = pcm[i] * (1f / 32768f);
            return new WavClip(mono, rate, channels, format, bits);
        }
        float inv = 1f / channels;
        for (int i = 0; i < frames; i++)
        {
            var frame = data.Slice(i * blockAlign, blockAlign);
            float sum = 0;
            for (int c = 0; c < channels; c++) sum += Sample(frame.Slice(c * container, container), format, container);
            mono[i] = sum * inv;
            if (format == FormatIeeeFloat && !(Math.Abs(mono[i]) <= MaxFloatAmplitude))
                throw new WavFormatException($"'{name}': sample {i} is {mono[i]}; float WAV samples must be finite and within ±{MaxFloatAmplitude} " +
                    "(nominally ±1; larger values overflow the spectrogram).");
        }
        return new WavClip(mono, rate, channels, format, bits);
    }

    /// <summary>Largest magnitude accepted for an IEEE-float sample (nominal full scale is 1).</summary>
    public const float MaxFloatAmplitude = 1000;

    private static float Sample(ReadOnlySpan<byte> s, int format, int container)
    {
        if (format == FormatIeeeFloat)
            return container == 4 ? BinaryPrimitives.ReadSingleLittleEndian(s) : (float)BinaryPrimitives.ReadDoubleLittleEndian(s);
        return container switch
        {
            1 => (s[0] - 128) / 128f,
            2 => BinaryPrimitives.ReadInt16LittleEndian(s) / 32768f,
            3 => ((s[0] << 8 | s[1] << 16 | s[2] << 24) >> 8) / 8388608f,
            _ => (float)(BinaryPrimitives.ReadInt32LittleEndian(s) / 2147483648.0),
        };
    }

    private static string FormatName(int code) => code switch
    {
        1 => "PCM", 2 => "Microsoft ADPCM", 3 => "IEEE float", 6 => "A-law", 7 => "mu-law", 0x11 => "IMA ADPCM", 0x55 => "MPEG Layer 3",
        _ => "unknown",
    };
}
