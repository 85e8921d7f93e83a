using System.Diagnostics;
using System.Globalization;
using System.Text;
using MLNetFusion.Datasets;
using Xunit;
using Xunit.Abstractions;

namespace MLNetFusion.Tests;

/// <summary>
/// The install story on every commit: the library packages are packed into a local feed, and a fresh console app outside
/// the repository, referencing only those packages, TorchSharp-cpu and ML.NET 6.0.0, builds and runs the README's
/// quickstart (training, evaluation, save and load) on a small generated dataset.
/// </summary>
public class ConsumerAppTests
{
    private static readonly string[] LibraryProjects = { "Core", "Transforms", "Trainers", "AutoML", "Onnx", "MLNetFusion" };
    private readonly ITestOutputHelper _output;

    public ConsumerAppTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void TheReadmeShowsTheQuickstartFileVerbatim()
    {
        var code = File.ReadAllText(Path.Combine(TestData.RepoRoot, "samples", "Quickstart", "Program.cs")).ReplaceLineEndings("\n");
        var readme = File.ReadAllText(Path.Combine(TestData.RepoRoot, "README.md")).ReplaceLineEndings("\n");
        Assert.Contains("```csharp\n" + code + "```\n", readme);
    }

    [Fact]
    public async Task AFreshAppBuildsAndRunsTheQuickstartFromThePackedPackages()
    {
        var total = Stopwatch.StartNew();
        string root = Path.Combine(Path.GetTempPath(), "mlnetfusion-consumer-" + Guid.NewGuid().ToString("N")[..8]);   // outside the repository's Directory.*.props
        string feed = Path.Combine(root, "feed"), app = Path.Combine(root, "app");
        // A version of its own, so that NuGet's global cache never serves the packages of an earlier commit.
        string version = "0.0.0-ci." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "." + Environment.ProcessId;
        try
        {
            foreach (var project in LibraryProjects)
            {
                var dir = Path.Combine(TestData.RepoRoot, "src", project);
                var csproj = Directory.GetFiles(dir, "*.csproj").Single();
                // Packs what the test build compiled (Release); building again here would compete with the tests for the cores.
                await Run(TestData.RepoRoot, "dotnet", "pack", csproj, "-c", "Release", "--no-build", "-o", feed, $"-p:Version={version}", "-nologo", "-v", "q");
            }
            Assert.Equal(LibraryProjects.Length, Directory.GetFiles(feed, "*.nupkg").Length);

            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="MLNetFusion" Version="{version}" />
                    <PackageReference Include="TorchSharp-cpu" Version="0.107.0" />
                    <PackageReference Include="Microsoft.ML" Version="6.0.0" />
                    <PackageReference Include="Microsoft.ML.ImageAnalytics" Version="6.0.0" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="mlnetfusion-ci" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            File.Copy(Path.Combine(TestData.RepoRoot, "samples", "Quickstart", "Program.cs"), Path.Combine(app, "Program.cs"));
            WriteData(Path.Combine(app, "data"));

            var restore = Stopwatch.StartNew();
            await Run(app, "dotnet", "build", "-c", "Release", "-nologo", "-v", "q");
            restore.Stop();
            var run = Stopwatch.StartNew();
            var stdout = await Run(app, "dotnet", "run", "-c", "Release", "--no-build");
            _output.WriteLine($"pack {total.Elapsed - restore.Elapsed - run.Elapsed:g}, restore + build {restore.Elapsed:g}, run {run.Elapsed:g}: {stdout}");

            double Accuracy(string label) => double.Parse(stdout.Split('\n').Single(l => l.StartsWith(label + " ", StringComparison.Ordinal))[(label.Length + 1)..].Trim(),
                CultureInfo.InvariantCulture);
            // Four classes (the image's shape and the tone's pitch): chance is 25%.
            Assert.True(Accuracy("accuracy") > 0.4, stdout);
            Assert.Equal(Accuracy("accuracy"), Accuracy("reloaded accuracy"));
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
            // The run's packages leave NuGet's global cache with it.
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (var project in LibraryProjects)
            {
                var id = project == "MLNetFusion" ? "mlnetfusion" : "mlnetfusion." + project.ToLowerInvariant();
                try
                {
                    Directory.Delete(Path.Combine(cache, id, version), recursive: true);
                    if (!Directory.EnumerateFileSystemEntries(Path.Combine(cache, id)).Any()) Directory.Delete(Path.Combine(cache, id));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>The generated dataset in the quickstart's layout, labelled by the two factors an image and a clip carry.</summary>
    private static void WriteData(string folder)
    {
        SyntheticMultimodalDataset.EnsureGenerated(folder, seed: 5, trainRows: 400, testRows: 100);
        foreach (var file in new[] { "train.csv", "test.csv" })
        {
            var lines = File.ReadAllLines(Path.Combine(folder, file));
            var csv = new StringBuilder("Id,Label,ImagePath,AudioPath\n");
            foreach (var line in lines.Skip(1))
            {
                var f = line.Split(',');
                csv.Append(f[0]).Append(',').Append(string.Join('-', f[1].Split('-').Take(2))).Append(',').Append(f[2]).Append(',').Append(f[3]).Append('\n');
            }
            File.WriteAllText(Path.Combine(folder, file), csv.ToString());
        }
    }

    private async Task<string> Run(string workingDirectory, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["MLNETFUSION_TORCH_THREADS"] = "2";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await p.WaitForExitAsync(timeout.Token);
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} exited with {p.ExitCode}:\n{await stdout}\n{await stderr}");
        return await stdout;
    }
}
