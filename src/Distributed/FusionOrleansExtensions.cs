using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using StackExchange.Redis;

namespace MLNetFusion.Distributed;

/// <summary>Silo and client set-up for distributed studies.</summary>
public static class FusionOrleansExtensions
{
    /// <summary>Hosts study grains on this silo (every silo of a study's cluster should call it) with their lease timing.</summary>
    public static ISiloBuilder AddFusionStudies(this ISiloBuilder builder, Action<FusionStudyOptions>? configure = null)
    {
        builder.Services.AddOptions<FusionStudyOptions>().Configure(o => { configure?.Invoke(o); o.Validate(); });
        return builder;
    }

    /// <summary>Runs trials on this silo (see <see cref="FusionWorker"/>).</summary>
    public static ISiloBuilder AddFusionWorker(this ISiloBuilder builder, Action<FusionWorkerOptions>? configure = null)
    {
        builder.Services.AddOptions<FusionWorkerOptions>().Configure(o => { configure?.Invoke(o); o.Validate(); });
        builder.Services.AddSingleton<FusionWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FusionWorker>());
        return builder;
    }

    /// <summary>
    /// Persists studies in <paramref name="folder"/>, a folder every silo sees (see <see cref="SharedFolderGrainStorage"/>).
    /// Studies are stored with Orleans' own serializer (every <c>[Id]</c> member, defaults included), here and in Redis:
    /// a JSON serializer that drops default values would turn a seed of 0 into the spec's default on reload.
    /// </summary>
    public static ISiloBuilder AddFusionSharedFolderStorage(this ISiloBuilder builder, string folder)
    {
        builder.Services.AddGrainStorage(FusionStudyGrain.StorageName, (sp, _) => new SharedFolderGrainStorage(folder, new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>())));
        return builder;
    }

    /// <summary>
    /// Cluster membership and study persistence in Redis (<paramref name="redis"/>: a StackExchange.Redis configuration
    /// such as <c>127.0.0.1:6379</c>, or a <c>redis://host:port</c> address).
    /// </summary>
    public static ISiloBuilder UseFusionRedis(this ISiloBuilder builder, string redis)
    {
        var configuration = ParseRedis(redis);
        builder.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(configuration));
        builder.AddRedisGrainStorage(FusionStudyGrain.StorageName, options => options.Configure<Serializer>((o, serializer) =>
        {
            o.ConfigurationOptions = ConfigurationOptions.Parse(configuration);
            o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
        }));
        return builder;
    }

    /// <summary>A client of a Redis-membership cluster (see <see cref="UseFusionRedis(ISiloBuilder, string)"/>).</summary>
    public static IClientBuilder UseFusionRedis(this IClientBuilder builder, string redis)
    {
        var configuration = ParseRedis(redis);
        builder.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(configuration));
        return builder;
    }

    /// <summary>The service id of MLNetFusion's clusters (Orleans' <c>ServiceId</c>, shared by every cluster id).</summary>
    public const string ServiceId = "mlnetfusion";

    /// <summary>The cluster id the command line uses unless told otherwise.</summary>
    public const string DefaultClusterId = "mlnetfusion";

    /// <summary>A silo of the MLNetFusion cluster <paramref name="clusterId"/> with Redis membership and study storage.</summary>
    public static ISiloBuilder UseFusionCluster(this ISiloBuilder builder, string redis, string clusterId = DefaultClusterId)
    {
        builder.Configure<ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = ServiceId; });
        return builder.UseFusionRedis(redis);
    }

    /// <summary>A client of the MLNetFusion cluster <paramref name="clusterId"/> (Redis membership).</summary>
    public static IClientBuilder UseFusionCluster(this IClientBuilder builder, string redis, string clusterId = DefaultClusterId)
    {
        builder.Configure<ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = ServiceId; });
        return builder.UseFusionRedis(redis);
    }

    /// <summary>Reads <c>redis://host:port</c> (or a plain StackExchange.Redis configuration) into a configuration string.</summary>
    /// <exception cref="ArgumentException">The address is not a Redis address; the message says what is expected.</exception>
    public static string ParseRedis(string redis)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(redis);
        if (!redis.StartsWith("redis://", StringComparison.OrdinalIgnoreCase)) return redis;
        if (!Uri.TryCreate(redis, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new ArgumentException($"'{redis}' is not a Redis address." + Environment.NewLine + "Hint: use redis://host:port, for example redis://127.0.0.1:6379.", nameof(redis));
        return $"{uri.Host}:{(uri.Port > 0 ? uri.Port : 6379)}";
    }
}
