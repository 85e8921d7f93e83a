namespace MLNetFusion.Datasets;

/// <summary>The one place for the default file locations of the command, the samples and the benchmarks (relative to the working directory).</summary>
public static class DefaultPaths
{
    /// <summary>Where outputs go: <c>artifacts</c>.</summary>
    public static string Artifacts => "artifacts";

    /// <summary>The generated default dataset: <c>artifacts/data/synthetic</c>.</summary>
    public static string SyntheticData => Path.Combine(Artifacts, "data", "synthetic");

    /// <summary>The 10,000-row generated dataset of the column-inference benchmark.</summary>
    public static string SyntheticData10k => Path.Combine(Artifacts, "data", "synthetic-10k");

    /// <summary>The real avdigits dataset beside the repository: <c>../shared/data/avdigits</c>.</summary>
    public static string AvDigits => Path.Combine("..", "shared", "data", "avdigits");

    /// <summary>A file under <see cref="Artifacts"/>.</summary>
    /// <param name="fileName">The file's name, e.g. <c>leaderboard.png</c>.</param>
    public static string Artifact(string fileName) => Path.Combine(Artifacts, fileName);

    /// <summary>Whether <paramref name="folder"/> holds avdigits (its <c>train.csv</c>).</summary>
    public static bool IsAvDigits(string folder) => File.Exists(Path.Combine(folder, "train.csv"));
}
