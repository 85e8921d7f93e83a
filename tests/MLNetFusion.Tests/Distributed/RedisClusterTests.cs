using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Distributed;
using Xunit;
using Xunit.Abstractions;

namespace MLNetFusion.Tests.Distributed;

/// <summary>A fact that needs a Redis server: <c>MLNETFUSION_REDIS</c> (host:port on a loopback address), which <c>.ci/run</c> starts.</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    /// <summary>Skips with the reason when no Redis is configured.</summary>
    public RedisFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MLNETFUSION_REDIS")))
            Skip = "No Redis server: set MLNETFUSION_REDIS=127.0.0.1:PORT (.ci/run installs Debian's redis-server and starts it on a loopback port).";
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
    public async Task ThreeWorkerProcessesFinishAGroupedSweepWhenOneIsKilled()
    {
        var redis = Environment.GetEnvironmentVariable("MLNETFUSION_REDIS")!;
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
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.UseOrleansClient(c => c.UseFusionCluster(redis, clusterId));
            using var host = builder.Build();
            // The workers need a few seconds to start and register: retry the connection.
            for (int attempt = 0; ; attempt++)
                try { await host.StartAsync(); break; }
                catch (Exception) when (attempt < 30) { await Task.Delay(1000); }
            var client = new FusionStudyClient(host.Services.GetRequiredService<IClusterClient>());
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
            await host.StopAsync();
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
