using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Locates the shared real datasets and the repository.</summary>
public static class TestData
{
    /// <summary>
    /// Copies of <paramref name="modalities"/> with the audio kind's default SpecAugment switched off: masking hides the
    /// generated clips' short tone, and the tests that train on them are about other things.
    /// </summary>
    public static List<MLNetFusion.Models.ModalityOptions> WithoutAudioAugmentation(IEnumerable<MLNetFusion.Models.ModalityOptions> modalities)
        => modalities.Select(m =>
        {
            var copy = m.Clone();
            if (copy.Kind == MLNetFusion.Models.ModalityKind.Audio) copy.Augmentation = new MLNetFusion.Models.ModalityAugmentation();
            return copy;
        }).ToList();

    /// <summary>The repository root (the folder holding MLNetFusion.sln).</summary>
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "MLNetFusion.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("MLNetFusion.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The avdigits folder: <c>MLNETFUSION_DATA/avdigits</c>, else <c>../shared/data/avdigits</c> next to the repository.</summary>
    public static string AvDigits
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("MLNETFUSION_DATA");
            if (string.IsNullOrEmpty(root)) root = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));
            return Path.Combine(root, "avdigits");
        }
    }

    /// <summary>A fresh temporary folder.</summary>
    public static string TempFolder(string name)
    {
        var path = Path.Combine(RunFolder.Value, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// This test process's folder under <c>mlnetfusion-tests</c> (<c>run-&lt;process id&gt;</c>), removed when the process
    /// exits; folders of earlier runs whose process is gone are removed first. A full suite writes gigabytes (models, WAV
    /// and image files), which otherwise stayed behind and filled the disk of a machine that runs it often.
    /// </summary>
    private static readonly Lazy<string> RunFolder = new(() =>
    {
        var root = Path.Combine(Path.GetTempPath(), "mlnetfusion-tests");
        Directory.CreateDirectory(root);
        foreach (var stale in Directory.GetDirectories(root, "run-*"))
            if (int.TryParse(Path.GetFileName(stale)["run-".Length..], out int pid) && pid != Environment.ProcessId && !IsAlive(pid)) TryDelete(stale);
        var path = Path.Combine(root, "run-" + Environment.ProcessId);
        Directory.CreateDirectory(path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(path);
        return path;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    private static bool IsAlive(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }

    private static void TryDelete(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>The generated default dataset, shared by tests (generated once per machine; seeded).</summary>
    public static string SyntheticFolder => Datasets.SyntheticMultimodalDataset.EnsureGenerated(
        Path.Combine(Path.GetTempPath(), "mlnetfusion-tests", "synthetic-v3"), seed: 7, trainRows: 1200, testRows: 400);

    /// <summary>A small copy of the generated dataset (320 training rows), for tests that train many models, such as the distributed sweep's.</summary>
    public static string SmallSyntheticFolder => Datasets.SyntheticMultimodalDataset.EnsureGenerated(
        Path.Combine(Path.GetTempPath(), "mlnetfusion-tests", "synthetic-small-v3"), seed: 7, trainRows: 320, testRows: 80);
}

/// <summary>A fact that runs only when <c>../shared/data/avdigits</c> exists, and says why it skipped otherwise.</summary>
public sealed class AvDigitsFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the dataset is absent.</summary>
    public AvDigitsFactAttribute()
    {
        if (!File.Exists(Path.Combine(TestData.AvDigits, "train.csv")))
            Skip = $"avdigits not found at '{TestData.AvDigits}'. It lives in ../shared/data next to the repository (or set MLNETFUSION_DATA); real-data tests run in CI where it is present.";
    }
}

/// <summary>Small synthetic multimodal rows for fast trainer tests.</summary>
public sealed class ToyRow
{
    /// <summary>Class 0..3.</summary>
    public uint Label { get; set; }
    /// <summary>An 8×8 "image" whose bright row depends on bit 0 of the label.</summary>
    [VectorType(1, 8, 8)] public float[] Image { get; set; } = Array.Empty<float>();
    /// <summary>Tabular features whose first feature depends on bit 1 of the label.</summary>
    [VectorType(4)] public float[] Tab { get; set; } = Array.Empty<float>();

    /// <summary>Rows where the image tells bit 0 and the tabular part tells bit 1, so both are needed.</summary>
    public static List<ToyRow> Make(int n, int seed)
    {
        var r = new Random(seed);
        var rows = new List<ToyRow>();
        for (int i = 0; i < n; i++)
        {
            uint y = (uint)r.Next(4);
            var img = new float[64];
            for (int k = 0; k < 64; k++) img[k] = (float)(r.NextDouble() * 0.5);
            int row = (y & 1) == 0 ? 2 : 5;
            for (int c = 0; c < 8; c++) img[row * 8 + c] += 1.0f;
            var tab = new float[4];
            for (int k = 0; k < 4; k++) tab[k] = (float)(r.NextDouble() - 0.5);
            tab[0] += (y & 2) == 0 ? -1f : 1f;
            rows.Add(new ToyRow { Label = y, Image = img, Tab = tab });
        }
        return rows;
    }

    /// <summary>Loads rows and maps the label to a key.</summary>
    public static IDataView Load(MLContext ml, IEnumerable<ToyRow> rows)
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        // Keys ordered by value, so every split maps labels to the same keys.
        return ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(data).Transform(data);
    }
}

/// <summary>Reads columns of a data view.</summary>
public static class Columns
{
    /// <summary>All values of a vector column.</summary>
    public static List<float[]> Vectors(IDataView data, string column)
    {
        var result = new List<float[]>();
        using var cursor = data.GetRowCursor(new[] { data.Schema[column] });
        var getter = cursor.GetGetter<VBuffer<float>>(data.Schema[column]);
        VBuffer<float> buf = default;
        while (cursor.MoveNext()) { getter(ref buf); result.Add(buf.DenseValues().ToArray()); }
        return result;
    }

    /// <summary>All values of a Boolean vector column.</summary>
    public static List<bool[]> Flags(IDataView data, string column)
    {
        var result = new List<bool[]>();
        using var cursor = data.GetRowCursor(new[] { data.Schema[column] });
        var getter = cursor.GetGetter<VBuffer<bool>>(data.Schema[column]);
        VBuffer<bool> buf = default;
        while (cursor.MoveNext()) { getter(ref buf); result.Add(buf.DenseValues().ToArray()); }
        return result;
    }

    /// <summary>All values of a key column.</summary>
    public static List<uint> Keys(IDataView data, string column)
    {
        var result = new List<uint>();
        using var cursor = data.GetRowCursor(new[] { data.Schema[column] });
        var getter = cursor.GetGetter<uint>(data.Schema[column]);
        uint v = 0;
        while (cursor.MoveNext()) { getter(ref v); result.Add(v); }
        return result;
    }
}
