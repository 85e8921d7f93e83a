using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MLNetFusion.Distributed;

namespace MLNetFusion.Cli.Commands;

/// <summary>
/// <c>mlnetfusion worker --cluster redis://host:port</c>: a silo of a distributed sweep. It joins the cluster (Redis
/// membership), hosts study grains (persisted in the same Redis) and runs trials until stopped.
/// </summary>
internal static class WorkerCommand
{
    public static Option<string> Cluster { get; } = new("--cluster") { Description = "The cluster's Redis: redis://host:port (membership and the studies' state).", Required = true };
    public static Option<string> ClusterId { get; } = new("--cluster-id") { Description = "The cluster's id (workers and sweeps of one cluster use the same).", DefaultValueFactory = _ => FusionOrleansExtensions.DefaultClusterId };

    public static Command Create()
    {
        var name = new Option<string?>("--name") { Description = "This worker's name in the leaderboard and errors (default: host:silo port)." };
        var advertise = new Option<string>("--advertise") { Description = "The address other silos reach this one at (this machine's address on the cluster's network).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Silo port (0: a free one).", DefaultValueFactory = _ => 0 };
        var gateway = new Option<int>("--gateway-port") { Description = "Gateway port clients connect to (0: a free one).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--torch-threads") { Description = "Torch threads for this worker's trials (default 0: MLNETFUSION_TORCH_THREADS, else every core; several workers on one machine: cores / workers).", DefaultValueFactory = _ => 0 };
        var lease = new Option<double>("--lease-seconds") { Description = "A trial whose worker sends no heartbeat for this long is given to another worker.", DefaultValueFactory = _ => 20 };
        var noTrials = new Option<bool>("--no-trials") { Description = "Host study grains only; run no trials." };
        var parent = new Option<int?>("--parent") { Description = "Stop when the process with this id ends (for scripts and tests that start workers)." };
        var command = new Command("worker", "Join a distributed sweep's cluster as a worker silo: run trials and host studies until stopped (Ctrl+C).")
            { Cluster, ClusterId, name, advertise, port, gateway, threads, lease, noTrials, parent };
        command.SetAction(async (r, cancel) =>
        {
            var address = IPAddress.Parse(r.GetValue(advertise)!);
            int siloPort = r.GetValue(port) is > 0 and var p ? p : FreePort(), gatewayPort = r.GetValue(gateway) is > 0 and var g ? g : FreePort();
            string worker = r.GetValue(name) ?? $"{Environment.MachineName}:{siloPort}";
            int torchThreads = r.GetValue(threads) > 0 ? r.GetValue(threads) : MLNetFusion.Runtime.TorchRuntime.DefaultThreads();
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddFilter("MLNetFusion", LogLevel.Information);
            // Orleans retries calls to a lost silo itself and logs every retry; its errors are enough here.
            builder.Logging.AddFilter("Orleans", LogLevel.Error);
            builder.Logging.AddFilter("Polly", LogLevel.None);
            builder.UseOrleans(silo =>
            {
                silo.UseFusionCluster(r.GetValue(Cluster)!, r.GetValue(ClusterId)!);
                silo.ConfigureEndpoints(address, siloPort, gatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(address));
                silo.AddFusionStudies(o => o.LeaseTimeout = TimeSpan.FromSeconds(r.GetValue(lease)));
                silo.AddFusionWorker(o => { o.Name = worker; o.TorchThreads = torchThreads; o.RunTrials = !r.GetValue(noTrials); });
            });
            using var host = builder.Build();
            await host.StartAsync(cancel);
            Console.WriteLine($"Worker {worker} joined cluster '{r.GetValue(ClusterId)}' at {address}:{siloPort} (gateway {gatewayPort}), {torchThreads} torch thread(s). Ctrl+C stops it.");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            if (r.GetValue(parent) is int pid) _ = WatchParentAsync(pid, stop);
            try { await Task.Delay(Timeout.Infinite, stop.Token); } catch (OperationCanceledException) { }
            await host.StopAsync(TimeSpan.FromSeconds(10));
            return 0;
        });
        return command;
    }

    private static async Task WatchParentAsync(int pid, CancellationTokenSource stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try { using var p = System.Diagnostics.Process.GetProcessById(pid); if (p.HasExited) break; }
            catch (ArgumentException) { break; }
            await Task.Delay(1000);
        }
        stop.Cancel();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
