using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MLNetFusion.Datasets;
using MLNetFusion.Distributed;
using MLNetFusion.Runtime;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only distributed</c>: trials completed per minute by a study on 1, 2 and 3 `mlnetfusion worker` processes
/// on this machine (one torch thread each, Redis membership), against the same study run locally with one thread, on a
/// 600-row copy of the generated dataset (grouped 2-fold, early, merge and late fusion, epochs 2 to 6).
/// Needs a Redis server: <c>--redis host:port</c> or <c>MLNETFUSION_REDIS</c>, else it starts Debian's
/// <c>redis-server</c> on a loopback port itself (and stops it by its process id).
/// </summary>
internal static class DistributedBenchmark
{
    public static void Run(string? redis, int trials)
    {
        Process? ownRedis = null;
        redis ??= Environment.GetEnvironmentVariable("MLNETFUSION_REDIS");
        if (string.IsNullOrEmpty(redis))
        {
            int port = 20000 + Random.Shared.Next(20000);
            try { ownRedis = Process.Start(new ProcessStartInfo("redis-server", $"--bind 127.0.0.1 --port {port} --save \"\" --appendonly no") { UseShellExecute = false, RedirectStandardOutput = true }); }
            catch (System.ComponentModel.Win32Exception)
            {
                Emit(new { benchmark = "distributed", skipped = "no Redis: pass --redis host:port, set MLNETFUSION_REDIS, or install Debian's redis-server" });
                return;
            }
            redis = $"127.0.0.1:{port}";
            Thread.Sleep(500);
        }
        try
        {
            // A 600-row copy of the generated dataset: trials of seconds, so the study's overheads (featurizing on each
            // worker, leases, polling) weigh as they would in a short sweep.
            var folder = SyntheticMultimodalDataset.EnsureGenerated(DefaultPaths.Artifact("bench-distributed-data"), seed: 7, trainRows: 600, testRows: 100);
            FusionStudySpec Spec() => new()
            {
                TrainPath = Path.Combine(folder, "train.csv"), Kind = "synthetic", Group = "Site", Folds = 2, Seed = 5, MaxTrials = trials,
                Families = new[] { "early", "merge", "late" }, MinEpochs = 2, MaxEpochs = 6, Refit = false,
            };
            TorchRuntime.SetThreads(1);
            var clock = Stopwatch.StartNew();
            var local = Spec().RunLocal();
            double localSeconds = clock.Elapsed.TotalSeconds;
            double localRate = local.Trials.Count / (localSeconds / 60);
            Emit(new { benchmark = "distributed", workers = 0, mode = "local FusionExperiment, 1 torch thread", trials = local.Trials.Count, seconds = Math.Round(localSeconds, 1), trials_per_minute = Math.Round(localRate, 2) });
            for (int n = 1; n <= 3; n++)
            {
                string clusterId = $"bench-{n}-{Guid.NewGuid():N}"[..20];
                var workers = Enumerable.Range(1, n).Select(i => new WorkerProcess(redis, clusterId, $"bench-worker-{i}")).ToList();
                try
                {
                    // Each worker process loads .NET, libtorch and Orleans before it registers: wait for every one to say it
                    // joined (its own log line), a minute plus 45 s per worker on these 2 cores, and name the one that did not.
                    var started = Stopwatch.StartNew();
                    try { WorkerProcess.WaitForAll(workers, TimeSpan.FromSeconds(60 + 45 * n)); }
                    catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
                    {
                        Emit(new { benchmark = "distributed", workers = n, error = ex.Message });
                        continue;
                    }
                    double startSeconds = started.Elapsed.TotalSeconds;
                    using var connection = FusionClusterConnection.ConnectAsync(redis, clusterId).GetAwaiter().GetResult();
                    clock.Restart();
                    var result = connection.Studies.RunAsync(clusterId, Spec(), pollInterval: TimeSpan.FromMilliseconds(250)).GetAwaiter().GetResult();
                    double seconds = clock.Elapsed.TotalSeconds, rate = result.Trials.Count / (seconds / 60);
                    Emit(new
                    {
                        benchmark = "distributed", workers = n, mode = "worker processes, 1 torch thread each", trials = result.Trials.Count, seconds = Math.Round(seconds, 1),
                        workers_ready_seconds = Math.Round(startSeconds, 1),
                        trials_per_minute = Math.Round(rate, 2), local_trials_per_minute = Math.Round(localRate, 2), ratio_to_local = Math.Round(rate / localRate, 2),
                        same_configurations_as_local = n == 1 ? result.Trials.Select(t => t.Settings.ToString()).SequenceEqual(local.Trials.Select(t => t.Settings.ToString())) : (bool?)null,
                    });
                }
                finally
                {
                    foreach (var w in workers) w.Dispose();
                }
            }
        }
        finally
        {
            if (ownRedis != null) { try { ownRedis.Kill(); } catch (InvalidOperationException) { } ownRedis.WaitForExit(5000); ownRedis.Dispose(); }
        }
    }

    /// <summary>An <c>mlnetfusion worker</c> process this benchmark started (stopped by its own id), its log kept for errors.</summary>
    private sealed class WorkerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _log = new();
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public WorkerProcess(string redis, string clusterId, string name)
        {
            Name = name;
            // The command line's `mlnetfusion worker`, built beside this benchmark (a project reference). Starting this
            // executable again, as the benchmark once did, ran the benchmarks' own command line, which has no worker.
            string cli = Path.Combine(AppContext.BaseDirectory, "mlnetfusion.dll");
            if (!File.Exists(cli))
                throw new FileNotFoundException($"The command line '{cli}' is not beside the benchmark, so no worker can be started." + Environment.NewLine +
                    "Hint: build the benchmark project (it references src/Cli) before running --only distributed.", cli);
            var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("exec");
            psi.ArgumentList.Add(cli);
            psi.Environment["MLNETFUSION_TORCH_THREADS"] = "1";
            foreach (var a in new[] { "worker", "--cluster", "redis://" + redis, "--cluster-id", clusterId, "--name", name, "--torch-threads", "1", "--parent", Environment.ProcessId.ToString() })
                psi.ArgumentList.Add(a);
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, e) => Add(e.Data, "");
            _process.ErrorDataReceived += (_, e) => Add(e.Data, "stderr: ");
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Name { get; }

        private void Add(string? line, string prefix)
        {
            if (line == null) return;
            _log.Enqueue(prefix + line);
            while (_log.Count > 200) _log.TryDequeue(out _);
            // The worker's own line once its silo has started (WorkerCommand).
            if (line.StartsWith("Worker ", StringComparison.Ordinal) && line.Contains(" joined cluster ", StringComparison.Ordinal)) _ready.TrySetResult();
        }

        private string Tail(int lines) => string.Join(Environment.NewLine, _log.TakeLast(lines).Select(l => "    " + l));

        /// <summary>Waits until every worker has joined; a worker that exits first, or the timeout, is an error naming it with its log's last lines.</summary>
        public static void WaitForAll(IReadOnlyList<WorkerProcess> workers, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            var lastReport = TimeSpan.Zero;
            while (true)
            {
                var waiting = workers.Where(w => !w._ready.Task.IsCompleted).ToList();
                if (waiting.Count == 0) return;
                foreach (var w in waiting.Where(w => w._process.HasExited))
                    throw new InvalidOperationException($"Worker {w.Name} (process {w._process.Id}) exited with code {w._process.ExitCode} before it joined the cluster. Its last lines:" +
                        Environment.NewLine + w.Tail(20));
                if (clock.Elapsed > timeout)
                    throw new TimeoutException($"{string.Join(", ", waiting.Select(w => w.Name))} did not join the cluster within {timeout.TotalSeconds:F0} s " +
                        $"({workers.Count - waiting.Count} of {workers.Count} did). Their last lines:" + Environment.NewLine +
                        string.Join(Environment.NewLine, waiting.Select(w => w.Name + ":" + Environment.NewLine + w.Tail(10))));
                if (clock.Elapsed - lastReport >= TimeSpan.FromSeconds(5))
                {
                    lastReport = clock.Elapsed;
                    Console.Error.WriteLine($"[distributed] {workers.Count - waiting.Count} of {workers.Count} workers joined after {clock.Elapsed.TotalSeconds:F0} s (waiting up to {timeout.TotalSeconds:F0} s)");
                }
                Thread.Sleep(250);
            }
        }

        public void Dispose()
        {
            try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _process.WaitForExit(10_000);
            _process.Dispose();
        }
    }
}
