using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Mapping;

/// <summary>
/// Describes one column that a <see cref="BatchMappingTransformer"/> appends.
/// </summary>
/// <param name="Name">Output column name.</param>
/// <param name="Type">Output column type.</param>
/// <param name="Annotations">Annotations (slot names, key values, score kinds), or <c>null</c>.</param>
public sealed record OutputColumn(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations = null);

/// <summary>
/// Computes a transformer's output columns for a block of rows at once. A cursor owns one mapper, so a mapper may keep
/// mutable buffers; it never sees two blocks at the same time.
/// </summary>
public abstract class BatchMapper : IDisposable
{
    /// <summary>Names of the input columns the mapper reads.</summary>
    public abstract IReadOnlyList<string> InputColumns { get; }

    /// <summary>Creates getters on <paramref name="input"/> for <see cref="InputColumns"/>.</summary>
    public abstract void Bind(DataViewRow input);

    /// <summary>Reads the current input row into batch slot <paramref name="slot"/>.</summary>
    /// <param name="slot">Index within the block.</param>
    /// <param name="position">The input row's position, for error messages.</param>
    public abstract void ReadRow(int slot, long position);

    /// <summary>Computes the outputs for slots <c>0..count-1</c>. <paramref name="active"/> flags wanted outputs.</summary>
    public abstract void Compute(int count, bool[] active);

    /// <summary>Returns a <c>ValueGetter&lt;T&gt;</c> for output <paramref name="output"/> reading the slot <paramref name="slot"/> returns.</summary>
    public abstract Delegate GetOutputGetter(int output, Func<int> slot);

    /// <summary>Releases native buffers. The default does nothing.</summary>
    public virtual void Dispose() { }
}
