using Orleans.Storage;

namespace MLNetFusion.Distributed;

/// <summary>
/// Grain storage in a folder every silo sees (the study's shared folder): one file per grain state, written to a
/// temporary file and renamed into place, with an ETag (the file's version) checked on write so two activations of one
/// grain cannot overwrite each other. It lets a cluster without a database keep its studies across silo restarts; with
/// Redis, <c>AddRedisGrainStorage</c> does the same.
/// </summary>
public sealed class SharedFolderGrainStorage : IGrainStorage
{
    private readonly string _folder;
    private readonly IGrainStorageSerializer _serializer;

    /// <summary>Creates the storage in <paramref name="folder"/> (created if absent), writing states with <paramref name="serializer"/>.</summary>
    public SharedFolderGrainStorage(string folder, IGrainStorageSerializer serializer)
    {
        _folder = Path.GetFullPath(folder);
        _serializer = serializer;
        Directory.CreateDirectory(_folder);
    }

    private string PathOf(string stateName, GrainId grainId)
    {
        var name = $"{stateName}-{grainId}";
        foreach (var c in Path.GetInvalidFileNameChars().Append('/')) name = name.Replace(c, '_');
        return Path.Combine(_folder, name + ".state");
    }

    /// <inheritdoc />
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        if (!File.Exists(path)) { grainState.State = Activator.CreateInstance<T>(); grainState.ETag = null; grainState.RecordExists = false; return; }
        var bytes = await File.ReadAllBytesAsync(path);
        grainState.State = _serializer.Deserialize<T>(new BinaryData(bytes));
        grainState.ETag = File.GetLastWriteTimeUtc(path).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        string? current = File.Exists(path) ? File.GetLastWriteTimeUtc(path).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        if (current != grainState.ETag)
            throw new InconsistentStateException($"The state of {grainId} in '{path}' was written by another activation (ETag {current}, expected {grainState.ETag}).", current, grainState.ETag);
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        await File.WriteAllBytesAsync(temp, _serializer.Serialize(grainState.State).ToArray());
        File.Move(temp, path, overwrite: true);
        // A write within the file system's timestamp resolution would keep the old ETag: make every version distinct.
        var ticks = File.GetLastWriteTimeUtc(path).Ticks;
        if (current != null && ticks.ToString(System.Globalization.CultureInfo.InvariantCulture) == current) File.SetLastWriteTimeUtc(path, new DateTime(ticks + 1, DateTimeKind.Utc));
        grainState.ETag = File.GetLastWriteTimeUtc(path).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        if (File.Exists(path)) File.Delete(path);
        grainState.ETag = null; grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
        return Task.CompletedTask;
    }
}
