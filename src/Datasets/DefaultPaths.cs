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

    /// <summary>
    /// The real avdigits dataset: <c>$MLNETFUSION_DATA/avdigits</c> when that variable is set; else the first
    /// <c>shared/data/avdigits</c> beside the current folder, the program's folder or any folder above them (so
    /// <c>../shared/data/avdigits</c> next to the repository is found from any folder inside it); else that relative path.
    /// </summary>
    public static string AvDigits
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("MLNETFUSION_DATA");
            if (!string.IsNullOrEmpty(root)) return Path.Combine(root, "avdigits");
            foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
                for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                {
                    var candidate = Path.Combine(dir.FullName, "shared", "data", "avdigits");
                    if (IsAvDigits(candidate)) return candidate;
                }
            return Path.Combine("..", "shared", "data", "avdigits");
        }
    }

    /// <summary>A file under <see cref="Artifacts"/>.</summary>
    /// <param name="fileName">The file's name, e.g. <c>leaderboard.png</c>.</param>
    public static string Artifact(string fileName) => Path.Combine(Artifacts, fileName);

    /// <summary>Whether <paramref name="folder"/> holds avdigits (its <c>train.csv</c>).</summary>
    public static bool IsAvDigits(string folder) => File.Exists(Path.Combine(folder, "train.csv"));
}
