using Microsoft.ML.Data;

namespace MLNetFusion.Benchmarks;

/// <summary>Rows the neural benchmarks generate.</summary>
internal static class BenchRows
{
    /// <summary>avdigits-shaped rows: a 1×28×28 image, a 40×63 log-mel, 10 classes.</summary>
    public sealed class AvRow
    {
        public uint Label { get; set; }
        [VectorType(1, 28, 28)] public float[] Pixels { get; set; } = Array.Empty<float>();
        [VectorType(40, 63)] public float[] LogMel { get; set; } = Array.Empty<float>();
    }

    public static List<AvRow> AvShaped(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            uint y = (uint)r.Next(10);
            var px = new float[784]; var mel = new float[40 * 63];
            for (int i = 0; i < px.Length; i++) px[i] = (float)r.NextDouble();
            for (int i = 0; i < mel.Length; i++) mel[i] = (float)(r.NextDouble() - 5);
            px[y * 50] += 3; mel[y * 100] += 3;
            return new AvRow { Label = y + 1, Pixels = px, LogMel = mel };
        }).ToList();
    }


    public sealed class ScoreRow { public float[] Score { get; set; } = Array.Empty<float>(); }

}
