namespace MLNetFusion.Data;

/// <summary>
/// Seeded, order-independent randomness over row positions: the validation split, late fusion's out-of-fold folds and
/// the shuffles of training and permutation importance all draw from here, so one seed gives the same rows everywhere.
/// </summary>
internal static class SeededShuffle
{
    /// <summary>A uniform number in [0, 1) determined by a row position and a seed (SplitMix64).</summary>
    public static double Hash(long position, int seed)
    {
        ulong z = (ulong)position * 0x9E3779B97F4A7C15UL + (ulong)(uint)seed * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>A Fisher-Yates permutation of 0..n-1 drawn from <paramref name="rand"/>.</summary>
    public static int[] Permutation(int n, Random rand)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) { int j = rand.Next(i + 1); (p[i], p[j]) = (p[j], p[i]); }
        return p;
    }
}
