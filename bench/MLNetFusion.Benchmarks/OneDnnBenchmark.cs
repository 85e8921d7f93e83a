using System.Diagnostics;
using System.Text.Json.Nodes;
using MLNetFusion.Runtime;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only onednn</c> (issue 41): the oneDNN remedies side by side in one run. Each runs in a fresh process of
/// this program (the remedy is process-wide and must come before oneDNN's first primitive) with
/// <c>MLNETFUSION_ONEDNN</c> set, measuring fit and transform throughput of the bench merge model and the convolution
/// check (the smallest network that diverged on AMD EPYC CPUs at AVX-512, every step compared with float64). The
/// processes run one after another (the fit and transform measurements inside each alternate with the pure TorchSharp loop, so their ratios hold whatever the machine does); each emitted line is tagged with its remedy.
/// </summary>
internal static class OneDnnBenchmark
{
    public static void Run(IReadOnlyList<string> remedies, int rounds = 1)
    {
        if (remedies.Count == 0) remedies = new[] { "native", "avx2", "off" };
        for (int round = 1; round <= rounds; round++)
            foreach (var remedy in remedies)
            {
                var lines = Child(remedy, "fit,transform,convolution-check");
                foreach (var line in lines)
                {
                    if (JsonNode.Parse(line) is not JsonObject o || o["benchmark"]?.GetValue<string>() is not { } name || name == "environment") continue;
                    o["benchmark"] = "onednn_" + name;
                    o["onednn_setting"] = remedy;
                    o["round"] = round;
                    Console.WriteLine(o.ToJsonString());
                }
            }
    }

    /// <summary>The convolution check in this process, as one line (the remedy is this process's).</summary>
    public static void Check()
    {
        var r = TorchRuntime.CheckConvolutions(runs: 20, stepsPerRun: 30);
        Emit(new { benchmark = "convolution_check", remedy = r.OneDnn.Remedy.ToString(), cpu = r.OneDnn.CpuVendor, avx512 = r.OneDnn.CpuHasAvx512, steps = r.Steps,
            non_finite_steps = r.NonFiniteSteps, wrong_steps = r.WrongSteps, largest_relative_error = r.LargestError, seconds = Math.Round(r.Elapsed.TotalSeconds, 2) });
    }

    private static List<string> Child(string remedy, string only)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "mlnetfusion-bench.dll"), "--only", only }) psi.ArgumentList.Add(a);
        psi.Environment[TorchRuntime.OneDnnVariable] = remedy;
        psi.Environment.Remove("DNNL_MAX_CPU_ISA");
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (p.StandardOutput.ReadLine() is { } line) if (line.StartsWith('{')) lines.Add(line);
        p.WaitForExit();
        if (p.ExitCode != 0) Emit(new { benchmark = "onednn_failed", onednn_setting = remedy, exit = p.ExitCode, error = stderr.Result.Trim() });
        return lines;
    }
}
