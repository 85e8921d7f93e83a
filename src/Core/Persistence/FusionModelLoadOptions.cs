namespace MLNetFusion.Persistence;

/// <summary>
/// Limits <c>mlContext.Model.LoadFusionModel</c> enforces before it allocates anything, so that a damaged or hostile file
/// cannot make the loading process allocate gigabytes. Raise them for models that are legitimately larger.
/// </summary>
public sealed class FusionModelLoadOptions
{
    /// <summary>Default <see cref="MaximumParameters"/>: 250 million (1 GB of float weights).</summary>
    public const long DefaultMaximumParameters = 250_000_000;

    /// <summary>Default <see cref="MaximumEntryBytes"/>: 2 GiB.</summary>
    public const long DefaultMaximumEntryBytes = 1L << 31;

    /// <summary>
    /// Most parameters one network of the file may have, judged from its configuration and from the size of its stored
    /// weights before the network is built. Default 250 million.
    /// </summary>
    public long MaximumParameters { get; set; } = DefaultMaximumParameters;

    /// <summary>Largest entry of the file, in bytes after decompression (weights, configuration, ML.NET parts). Default 2 GiB, the most a single entry can hold.</summary>
    public long MaximumEntryBytes { get; set; } = DefaultMaximumEntryBytes;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a limit that is not positive or above what a file can hold.</summary>
    public void Validate()
    {
        if (MaximumParameters <= 0) throw new ArgumentOutOfRangeException(nameof(MaximumParameters), MaximumParameters, "MaximumParameters must be positive.");
        if (MaximumEntryBytes <= 0 || MaximumEntryBytes > DefaultMaximumEntryBytes)
            throw new ArgumentOutOfRangeException(nameof(MaximumEntryBytes), MaximumEntryBytes, $"MaximumEntryBytes must be in [1, {DefaultMaximumEntryBytes}] (a .NET array holds at most 2 GiB).");
    }
}
