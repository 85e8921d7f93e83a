using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Distributed;
using Xunit;
using Xunit.Abstractions;

namespace MLNetFusion.Tests.Distributed;

/// <summary>
/// A fact that needs a Redis server: <c>MLNETFUSION_REDIS</c> (host:port on a loopback address, which <c>.ci/run</c>
/// starts), else Debian's <c>redis-server</c>, which the test starts itself; it skips only when neither exists.
/// </summary>
public sealed class RedisFactAttribute : FactAttribute
{
    /// <summary>Skips with the reason when there is no Redis to use or start.</summary>
    public RedisFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MLNETFUSION_REDIS")) && RedisServer.Executable == null)
            Skip = "No Redis server: set MLNETFUSION_REDIS=127.0.0.1:PORT or install Debian's redis-server (.ci/run installs it and starts it on a loopback port).";
    }
}

/// <summary>A redis-server this test process starts on a free loopback port and stops by its own process id.</summary>
internal sealed class RedisServer : IDisposable
{
    private readonly Process _process;

    /// <summary>The redis-server executable on PATH, or null.</summary>
    public static string? Executable => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
        .Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);

    private RedisServer(Process process, string address) { _process = process; Address = address; }

    /// <summary>host:port.</summary>
    public string Address { get; }

    public static RedisServer Start()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var psi = new ProcessStartInfo(Executable!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--bind", "127.0.0.1", "--port", port.ToString(), "--save", "", "--appendonly", "no" }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { }; p.BeginOutputReadLine(); p.BeginErrorReadLine();
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(10); Thread.Sleep(100))
            try { using var c = new System.Net.Sockets.TcpClient("127.0.0.1", port); return new RedisServer(p, $"127.0.0.1:{port}"); }
            catch (System.Net.Sockets.SocketException) { }
        p.Kill(); p.Dispose();
        throw new InvalidOperationException($"redis-server did not listen on 127.0.0.1:{port} within 10 s.");
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(); } catch (InvalidOperationException) { }
        _process.WaitForExit(5000);
        _process.Dispose();
    }
}

/// <summary>
/// A cluster of three `mlnetfusion worker` processes on localhost with Redis membership and persistence; this test
/// process is the client. One worker is killed mid-run, by its own process id.
/// </summary>
public class RedisClusterTests
{
    private readonly ITestOutputHelper _out;
    public RedisClusterTests(ITestOutputHelper output) => _out = output;

    private static Process StartWorker(string redis, string clusterId, string name)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "mlnetfusion.dll"), "worker", "--cluster", "redis://" + redis, "--cluster-id", clusterId,
                     "--name", name, "--torch-threads", "1", "--lease-seconds", "8", "--parent", Environment.ProcessId.ToString() })
            psi.ArgumentList.Add(a);
        psi.Environment["MLNETFUSION_TORCH_THREADS"] = "1";
        return Process.Start(psi)!;
    }

    [RedisFact]
    public async Task ACallerWaitingForWorkersHearsHowLongAndThenAnErrorNamingTheCluster()
    {
        using var ownRedis = string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MLNETFUSION_REDIS")) ? RedisServer.Start() : null;
        var redis = ownRedis?.Address ?? Environment.GetEnvironmentVariable("MLNETFUSION_REDIS")!;
        string clusterId = "nobody-" + Guid.NewGuid().ToString("N")[..8];
        var waited = new List<TimeSpan>();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            FusionClusterConnection.ConnectAsync(redis, clusterId, TimeSpan.FromSeconds(7), progress: (t, _) => waited.Add(t)));
        Assert.StartsWith($"Cannot join the cluster '{clusterId}' at '{redis}' within 7 s:", error.Message);
        Assert.Contains("--cluster-timeout", error.Message);
        // Told while it waited (each attempt lasts at most 5 s), and it gave up when asked, not minutes later.
        Assert.True(waited.Count >= 1 && waited.SequenceEqual(waited.Order()) && waited[^1] < TimeSpan.FromSeconds(7), $"progress reports: {string.Join(", ", waited)}");
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => FusionClusterConnection.ConnectAsync(redis, clusterId, TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromMinutes(2), FusionClusterConnection.DefaultWaitForCluster);
    }

    [RedisFact]
    public async Task ThreeWorkerProcessesFinishAGroupedSweepWhenOneIsKilled()
    {
        using var ownRedis = string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MLNETFUSION_REDIS")) ? RedisServer.Start() : null;
        var redis = ownRedis?.Address ?? Environment.GetEnvironmentVariable("MLNETFUSION_REDIS")!;
        string clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
        var workers = Enumerable.Range(1, 3).Select(i => StartWorker(redis, clusterId, $"worker-{i}")).ToList();
        var logs = workers.Select(_ => new System.Collections.Concurrent.ConcurrentQueue<string>()).ToList();
        for (int i = 0; i < workers.Count; i++)
        {
            int k = i;
            workers[k].OutputDataReceived += (_, e) => { if (e.Data != null) logs[k].Enqueue(e.Data); };
            workers[k].ErrorDataReceived += (_, e) => { if (e.Data != null) logs[k].Enqueue(e.Data); };
            workers[k].BeginOutputReadLine(); workers[k].BeginErrorReadLine();
        }
        try
        {
            // The workers need a few seconds to start and register: the connection waits for them.
            await using var connection = await FusionClusterConnection.ConnectAsync(redis, clusterId, TimeSpan.FromSeconds(60));
            var client = connection.Studies;
            var spec = DistributedStudyTests.SmallStudy(TestData.TempFolder("redis-models"), trials: 6);
            var run = client.RunAsync("redis-study", spec, pollInterval: TimeSpan.FromMilliseconds(250));
            var study = client.Study("redis-study");

            // Kill the worker running a trial once one trial has finished.
            int victim = -1;
            var lost = new List<int>();
            for (var clock = Stopwatch.StartNew(); victim < 0 && clock.Elapsed < TimeSpan.FromMinutes(4);)
            {
                await Task.Delay(250);
                StudySnapshot s;
                try { s = await study.GetSnapshotAsync(); } catch (Exception) { continue; }
                if (s.Trials.Count(t => t.Report != null) < 1) continue;
                var running = s.Trials.FirstOrDefault(t => t.Report == null && t.RunningOn != null);
                if (running == null) continue;
                victim = int.Parse(running.RunningOn!["worker-".Length..]) - 1;
                lost.Add(running.Trial.TrialId);
            }
            Assert.True(victim >= 0, "no trial was running on a worker");
            _out.WriteLine($"killing worker-{victim + 1} (pid {workers[victim].Id}), which runs trial {lost[0]}");
            workers[victim].Kill(entireProcessTree: true);

            var result = await run.WaitAsync(TimeSpan.FromMinutes(10));
            foreach (var t in result.Snapshot.Trials) _out.WriteLine($"{t.Trial.TrialId} {t.Trial.Family} rung {t.Rung} attempts {t.Attempts} on {t.Report?.Worker}: {t.Report?.Status} {t.Report?.Accuracy:P1}");
            Assert.Equal(Enumerable.Range(0, 6), result.Trials.Select(t => t.Settings.TrialId));
            Assert.All(result.Trials, t => Assert.Equal(FusionTrialStatus.Completed, t.Status));
            var retried = result.Snapshot.Trials.Single(t => t.Trial.TrialId == lost[0]);
            Assert.True(retried.Attempts >= 2 && retried.Report!.Worker != $"worker-{victim + 1}", $"trial {lost[0]}: {retried.Attempts} attempts, reported by {retried.Report!.Worker}");
            Assert.True(result.Snapshot.Trials.Select(t => t.Report!.Worker).Distinct().Count() >= 2, "trials ran on several workers");
            Assert.True(File.Exists(result.ModelPath), result.ModelPath);
            Assert.True(result.BestTrial.Accuracy > 0.2, $"best {result.BestTrial.Accuracy:P1}");
        }
        finally
        {
            foreach (var w in workers)
            {
                try { if (!w.HasExited) w.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                w.WaitForExit(10_000);
            }
            for (int i = 0; i < workers.Count; i++) foreach (var line in logs[i].TakeLast(15)) _out.WriteLine($"worker-{i + 1}: {line}");
        }
    }
}
