using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Data;

/// <summary>
/// One mini-batch: one tensor per modality (<c>[B, size]</c> float32), a presence mask per modality (<c>[B]</c>,
/// 1 = present, 0 = the row's modality was missing and is zero-filled) and the labels (<c>[B]</c> int64, 0-based).
/// </summary>
public sealed class FusionBatch : IDisposable
{
    /// <summary>Creates a batch; it takes ownership of the tensors.</summary>
    public FusionBatch(Tensor[] features, Tensor[] present, Tensor? labels, int count)
    {
        Features = features; Present = present; Labels = labels; Count = count;
    }

    /// <summary>Per modality, <c>[B, size]</c> float32.</summary>
    public Tensor[] Features { get; }

    /// <summary>Per modality, <c>[B]</c> float32 with 1 where the modality is present.</summary>
    public Tensor[] Present { get; }

    /// <summary>
    /// Per modality, whether every row of the batch has it (known without reading <see cref="Present"/>'s tensors), or
    /// <c>null</c> when the builder of the batch did not say. Networks use it to skip masking that would change nothing.
    /// </summary>
    public bool[]? PresentInEveryRow { get; init; }

    /// <summary><c>[B]</c> int64 class indices, or <c>null</c> at inference.</summary>
    public Tensor? Labels { get; }

    /// <summary>Rows in the batch.</summary>
    public int Count { get; }

    /// <summary>
    /// The batch on <paramref name="device"/>: this batch when it is there already, else a copy, and this batch is disposed.
    /// </summary>
    public FusionBatch To(Device device)
    {
        if (Features.Length == 0 || OnDevice(Features[0], device)) return this;
        var moved = new FusionBatch(Features.Select(t => t.to(device)).ToArray(), Present.Select(t => t.to(device)).ToArray(), Labels?.to(device), Count) { PresentInEveryRow = PresentInEveryRow };
        Dispose();
        return moved;
    }

    internal static bool OnDevice(Tensor t, Device device)
        => t.device_type == device.type && (device.type == DeviceType.CPU || t.device_index == Math.Max(0, device.index));

    /// <summary>The device of <paramref name="module"/>'s first parameter or buffer (the CPU when it has none).</summary>
    internal static Device DeviceOf(nn.Module module)
    {
        var first = module.parameters().Select(p => (Tensor)p).Concat(module.buffers()).FirstOrDefault();
        return first is null ? CPU : first.device;
    }

    /// <summary>Moves the batch's tensors out of the current dispose scope.</summary>
    public FusionBatch MoveToOuterDisposeScope()
    {
        foreach (var t in Features) t.MoveToOuterDisposeScope();
        foreach (var t in Present) t.MoveToOuterDisposeScope();
        Labels?.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in Features) t.Dispose();
        foreach (var t in Present) t.Dispose();
        Labels?.Dispose();
    }
}
