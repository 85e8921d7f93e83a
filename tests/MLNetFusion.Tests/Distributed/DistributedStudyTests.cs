using Microsoft.Extensions.DependencyInjection;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Distributed;
using MLNetFusion.Trainers;
using Orleans.TestingHost;
using Xunit;
using Xunit.Abstractions;

namespace MLNetFusion.Tests.Distributed;

/// <summary>
/// The distributed sweep on in-process Orleans clusters (<see cref="InProcessTestCluster"/>): the study grain and the
/// workers are real silos in this process, persisting to a shared folder.
/// </summary>
public class DistributedStudyTests
{
    private readonly ITestOutputHelper _out;
    public DistributedStudyTests(ITestOutputHelper output) => _out = output;

    /// <summary>A small grouped study on a small copy of the generated dataset (320 rows, 4 sites): early fusion (LightGBM, no epochs) and merge fusion at 2 and 6 epochs.</summary>
    internal static FusionStudySpec SmallStudy(string? models = null, int trials = 6) => new()
    {
        TrainPath = Path.Combine(TestData.SmallSyntheticFolder, "train.csv"), Kind = "synthetic", Group = "Site", Folds = 2, Seed = 5,
        MaxTrials = trials, Families = new[] { "early", "merge" }, MinEpochs = 2, MaxEpochs = 6, ModelFolder = models, Refit = models != null,
    };

    internal static InProcessTestCluster Cluster(int silos, string storage, Func<string, bool>? runsTrials = null, TimeSpan? lease = null)
    {
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSilo((options, silo) =>
        {
            silo.AddFusionSharedFolderStorage(storage);
            silo.AddFusionStudies(o => o.LeaseTimeout = lease ?? TimeSpan.FromSeconds(6));
            silo.AddFusionWorker(o =>
            {
                // TorchThreads 0: the silos share this test process, whose torch thread count the other tests rely on.
                // The silo's name and an instance suffix: a silo started after one was lost may get the lost one's name.
                o.Name = $"{options.SiloName}#{Guid.NewGuid().ToString("N")[..6]}"; o.TorchThreads = 0; o.PollInterval = TimeSpan.FromMilliseconds(200); o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
                o.RunTrials = runsTrials?.Invoke(options.SiloName) ?? true;
            });
        });
        return builder.Build();
    }

    private static string Describe(FusionTrialResult t) => $"{t.Settings.TrialId} {t.Settings} {t.Status} {t.Metric:F4}";

    [Fact]
    public void AStudyResubmittedWithTheOldRoleNamesIsTheSameStudy()
    {
        var newer = SmallStudy() with { Roles = new Dictionary<string, string> { ["Photo"] = "Image", ["Clip"] = "audio", ["Site"] = "Categorical" } };
        // An older client wrote the kinds as the roles ImagePath and AudioPath, in its own case; its dictionary is another type.
        var older = newer with { Roles = new SortedDictionary<string, string> { ["Photo"] = "ImagePath", ["Clip"] = "AUDIOPATH", ["Site"] = "categorical" } };
        Assert.True(FusionStudyGrain.SameSpec(newer, older));
        Assert.False(FusionStudyGrain.SameSpec(newer, older with { Roles = new Dictionary<string, string> { ["Photo"] = "Audio", ["Clip"] = "Audio", ["Site"] = "Categorical" } }));
        Assert.False(FusionStudyGrain.SameSpec(newer, older with { Roles = new Dictionary<string, string> { ["Photo"] = "Image", ["Clip"] = "Audio" } }));
        Assert.False(FusionStudyGrain.SameSpec(newer, newer with { Seed = 6 }));
        // A name that is neither a role nor a kind is compared as written (the spec's validation refuses it).
        Assert.False(FusionStudyGrain.SameSpec(newer with { Roles = new Dictionary<string, string> { ["Photo"] = "Pictures" } }, newer with { Roles = new Dictionary<string, string> { ["Photo"] = "pictures" } }));
    }

    [Fact]
    public async Task OneWorkerEvaluatesTheSameTrialsWithTheSameMetricsAsTheLocalSweep()
    {
        var spec = SmallStudy(trials: 4);
        var local = spec.RunLocal();
        await using var cluster = Cluster(1, TestData.TempFolder("study-storage"));
        await cluster.DeployAsync();
        var client = new FusionStudyClient(cluster.Client);
        var distributed = await client.RunAsync("same-as-local", spec, pollInterval: TimeSpan.FromMilliseconds(200));
        // The same command again shows the finished study, read back from storage (the grain deactivated first).
        await cluster.DeactivateAsync(client.Study("same-as-local"));
        var again = await client.RunAsync("same-as-local", spec, pollInterval: TimeSpan.FromMilliseconds(200));
        Assert.Equal(distributed.Trials.Select(t => t.Metric), again.Trials.Select(t => t.Metric));
        Assert.True(again.Snapshot.Activations >= 2);
        foreach (var t in distributed.Trials) _out.WriteLine("distributed " + Describe(t));
        foreach (var t in local.Trials) _out.WriteLine("local       " + Describe(t));
        Assert.Equal(4, distributed.Trials.Count);
        Assert.Equal(local.Trials.Select(t => t.Settings.ToString()), distributed.Trials.Select(t => t.Settings.ToString()));
        Assert.Equal(local.Trials.Select(t => t.Status), distributed.Trials.Select(t => t.Status));
        Assert.Equal(local.Trials.Select(t => t.Metric), distributed.Trials.Select(t => t.Metric));
        Assert.Equal(local.Trials.Select(t => t.LogLoss), distributed.Trials.Select(t => t.LogLoss));
        Assert.Equal(local.BestTrial.Settings.TrialId, distributed.BestTrial.Settings.TrialId);
        // ASHA: both families' defaults first, then sampled configurations at the first rung (2 epochs).
        Assert.Equal(new[] { FusionFamily.Early, FusionFamily.Merge }, distributed.Trials.Take(2).Select(t => t.Settings.Family));
        Assert.All(distributed.Trials.Skip(2).Where(t => t.Settings.Family == FusionFamily.Merge), t => Assert.Contains(t.Settings.Epochs, new[] { 2, 6 }));
        Assert.All(distributed.Trials, t => Assert.Equal(FusionTrialStatus.Completed, t.Status));
        // Grouped folds of the small generated dataset's sites: better than the 1/8 of chance by a margin.
        Assert.True(distributed.BestTrial.Accuracy > 0.2, $"best {distributed.BestTrial.Accuracy:P1}");
    }

    [Fact]
    public async Task ThreeSilosSurviveALostWorkerAndARestartOfTheStudyHost()
    {
        var storage = TestData.TempFolder("study-storage");
        var models = TestData.TempFolder("study-models");
        var spec = SmallStudy(models, trials: 6);
        await using var cluster = Cluster(3, storage);
        await cluster.DeployAsync();
        var client = new FusionStudyClient(cluster.Client);
        var run = client.RunAsync("faults", spec, pollInterval: TimeSpan.FromMilliseconds(200));
        var study = client.Study("faults");

        // Kill a silo while it runs a trial (not the primary, which the in-process cluster needs).
        InProcessSiloHandle? victim = null;
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); victim == null && clock.Elapsed < TimeSpan.FromMinutes(3);)
        {
            var s = await study.GetSnapshotAsync();
            var running = s.Trials.Where(t => t.Report == null && t.RunningOn != null).Select(t => t.RunningOn!).ToHashSet();
            victim = cluster.Silos.Skip(1).FirstOrDefault(h => running.Any(w => w.StartsWith(h.Name + "#", StringComparison.Ordinal)) && s.Trials.Count(t => t.Report != null) >= 1);
            if (victim == null) await Task.Delay(200);
        }
        Assert.NotNull(victim);
        var lostOn = (await study.GetSnapshotAsync()).Trials.Where(t => t.Report == null && t.RunningOn?.StartsWith(victim!.Name + "#", StringComparison.Ordinal) == true).ToList();
        var lost = lostOn.Select(t => t.Trial.TrialId).ToList();
        string victimWorker = lostOn.Select(t => t.RunningOn!).FirstOrDefault() ?? victim!.Name;
        _out.WriteLine($"killing {victim!.Name}, which runs trial {string.Join(", ", lost)}");
        await cluster.KillSiloAsync(victim);

        // Then restart the silo that hosts the study grain: it resumes from its persisted state elsewhere.
        var before = await study.GetSnapshotAsync();
        var host = cluster.Silos.FirstOrDefault(h => h != victim && cluster.TryGetGrainContext(((IAddressable)study).GetGrainId(), out var c) && c!.Address.SiloAddress == h.SiloAddress);
        if (host != null)
        {
            _out.WriteLine($"stopping the study host {host.Name}");
            await cluster.StopSiloAsync(host);
            await cluster.StartAdditionalSiloAsync();
        }
        else
        {
            // The killed silo hosted it too: deactivate it wherever it is now, so its next call activates it from storage.
            _out.WriteLine("deactivating the study grain");
            await cluster.DeactivateAsync(study);
        }
        var result = await run.WaitAsync(TimeSpan.FromMinutes(8));
        foreach (var t in result.Snapshot.Trials) _out.WriteLine($"{t.Trial.TrialId} {t.Trial.Family} attempts {t.Attempts} on {t.Report?.Worker}: {t.Report?.Status} {t.Report?.Metric:F4}");

        Assert.Equal(6, result.Trials.Count);
        Assert.Equal(Enumerable.Range(0, 6), result.Trials.Select(t => t.Settings.TrialId));
        Assert.All(result.Trials, t => Assert.Equal(FusionTrialStatus.Completed, t.Status));
        Assert.True(result.Snapshot.Reassignments >= 1, "the killed silo's trial was given to another worker");
        Assert.True(result.Snapshot.Activations > before.Activations, $"the study grain was activated again ({result.Snapshot.Activations} vs {before.Activations})");
        foreach (var id in lost)
        {
            var t = result.Snapshot.Trials.Single(t => t.Trial.TrialId == id);
            Assert.True(t.Attempts >= 2 && t.Report!.Worker != victimWorker, $"trial {id}: {t.Attempts} attempts, reported by {t.Report!.Worker} (the killed silo's worker was {victimWorker})");
        }
        Assert.NotNull(result.ModelPath);
        Assert.True(File.Exists(result.ModelPath), result.ModelPath);
    }

    [Fact]
    public async Task AWorkerThatCannotReadTheDataIsAnErrorNamingTheWorkerAndThePath()
    {
        var folder = TestData.TempFolder("study-data");
        foreach (var f in Directory.GetFiles(TestData.SmallSyntheticFolder)) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(TestData.SmallSyntheticFolder))
            Microsoft.VisualBasic.FileIO.FileSystem.CopyDirectory(d, Path.Combine(folder, Path.GetFileName(d)));
        var spec = SmallStudy() with { TrainPath = Path.Combine(folder, "train.csv") };
        // The first silo hosts the study and runs no trials; a worker silo joins after the data has gone.
        await using var cluster = Cluster(1, TestData.TempFolder("study-storage"), runsTrials: name => name != "Silo_0" && name != "Primary");
        await cluster.DeployAsync();
        var client = new FusionStudyClient(cluster.Client);
        // A path no silo can read fails the submission, naming the silo that hosts the study.
        var missing = spec with { TrainPath = Path.Combine(folder, "absent.csv") };
        var host = await Assert.ThrowsAnyAsync<Exception>(() => client.Study("absent").SubmitAsync(missing));
        Assert.StartsWith($"Silo '{cluster.Silos[0].Name}', which hosts study 'absent', cannot read the data at '{missing.TrainPath}': The study's training CSV '{missing.TrainPath}' does not exist on this machine.", host.Message);
        await client.Study("unreadable").SubmitAsync(spec);
        File.Move(spec.TrainPath, spec.TrainPath + ".moved");
        var worker = await cluster.StartAdditionalSiloAsync();
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => client.RunAsync("unreadable", spec, pollInterval: TimeSpan.FromMilliseconds(200)).WaitAsync(TimeSpan.FromMinutes(2)));
        _out.WriteLine(e.Message);
        Assert.StartsWith($"Worker '{worker.Name}#", e.Message);
        Assert.Contains($"' cannot read the data of study 'unreadable' at '{spec.TrainPath}': The study's training CSV '{spec.TrainPath}' does not exist on this machine.", e.Message);
        Assert.EndsWith("Hint: every silo must see the study's data at the same path (a shared folder or a copy on each machine).", e.Message);
    }
}
