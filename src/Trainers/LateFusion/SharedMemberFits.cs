using Microsoft.ML;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>
/// Member fits shared by several late-fusion fits on the same training rows, so that comparing combiners (the
/// leaderboard's average, weighted average, product of experts, vote and stacking) costs one set of member fits and one
/// cross-fitting, not one per combiner, and every combiner is compared on the same members and the same folds.
/// </summary>
/// <remarks>
/// One instance stands for one training set: the caller gives every fit on those rows the same instance and a different
/// instance to other rows. An entry is found by what defines the members and their folds (members' names, columns and
/// trainer types, label, number of folds, sampling key, explicit seed); without an explicit seed the first fit's is kept
/// for the folds. The fitted members belong to this
/// object, not to the <see cref="LateFusionTransformer"/>s made from them, and are disposed with it.
/// </remarks>
internal sealed class SharedMemberFits : IDisposable
{
    internal sealed class Entry(List<ITransformer> members, int seed)
    {
        public List<ITransformer> Members { get; } = members;
        public int Seed { get; } = seed;
        public OutOfFoldData? OutOfFold { get; set; }
    }

    private readonly Dictionary<string, Entry> _entries = new();
    private bool _disposed;

    /// <summary>Member fits reused so far (tests and the leaderboard's notes).</summary>
    public int Reused { get; private set; }

    internal static string KeyOf(LateFusionOptions o) => string.Join("\u001f", o.Members.Select(m => $"{m.Name}\u001e{m.FeatureColumnName}\u001e{m.ScoreColumnName}\u001e{m.Trainer.GetType().FullName}")
        .Append(o.LabelColumnName).Append(o.NumberOfFolds.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(o.SamplingKeyColumnName ?? "")
        .Append(o.Seed?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? ""));

    internal Entry? Find(LateFusionOptions o)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_entries.TryGetValue(KeyOf(o), out var e)) return null;
        Reused++;
        return e;
    }

    internal Entry Add(LateFusionOptions o, List<ITransformer> members, int seed)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var e = new Entry(members, seed);
        _entries.Add(KeyOf(o), e);
        return e;
    }

    /// <summary>Disposes every shared member.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var e in _entries.Values)
            foreach (var m in e.Members) (m as IDisposable)?.Dispose();
        _entries.Clear();
    }
}
