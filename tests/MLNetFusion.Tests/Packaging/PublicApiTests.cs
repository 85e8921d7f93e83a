using System.Reflection;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// The public types of every shipped library equal its reviewed list in <c>Packaging/PublicApi/&lt;assembly&gt;.txt</c>
/// (issue 22: Core exposed its plumbing). A type that becomes public, or stops being public, fails here until the list is
/// changed with it; the failing run writes what it found beside the list as <c>&lt;assembly&gt;.received.txt</c>.
/// </summary>
public class PublicApiTests
{
    public static TheoryData<string> Libraries => new()
    {
        "MLNetFusion.Core", "MLNetFusion.Transforms", "MLNetFusion.Trainers", "MLNetFusion.AutoML",
        "MLNetFusion.Onnx", "MLNetFusion.Serving", "MLNetFusion.Orleans", "MLNetFusion.Datasets", "MLNetFusion.Pretrained",
    };

    [Theory]
    [MemberData(nameof(Libraries))]
    public void PublicTypesEqualTheReviewedList(string assemblyName)
    {
        var assembly = Assembly.Load(assemblyName);
        var actual = assembly.GetExportedTypes()
            .Where(t => t.Namespace?.StartsWith("OrleansCodeGen", StringComparison.Ordinal) != true) // Orleans' generated serializers
            .Select(t => t.FullName!.Replace('+', '.'))
            .Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(actual);

        var folder = Path.Combine(TestData.RepoRoot, "tests", "MLNetFusion.Tests", "Packaging", "PublicApi");
        var listFile = Path.Combine(folder, assemblyName + ".txt");
        var reviewed = File.Exists(listFile)
            ? File.ReadAllLines(listFile).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList()
            : new List<string>();
        var added = actual.Except(reviewed).ToList();
        var removed = reviewed.Except(actual).ToList();
        if (added.Count == 0 && removed.Count == 0) return;

        File.WriteAllLines(Path.Combine(folder, assemblyName + ".received.txt"), actual);
        Assert.Fail($"{assemblyName}'s public types differ from '{listFile}'." + Environment.NewLine +
            (added.Count > 0 ? "Now public: " + string.Join(", ", added) + Environment.NewLine : "") +
            (removed.Count > 0 ? "No longer public: " + string.Join(", ", removed) + Environment.NewLine : "") +
            $"Hint: make plumbing internal; if the change is meant, copy {assemblyName}.received.txt over {assemblyName}.txt.");
    }
}
