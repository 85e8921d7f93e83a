using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Data;

/// <summary>
/// The groups of a sampling key column (ML.NET's <c>samplingKeyColumnName</c>: speakers, microphones, patients,
/// sites): which group each row belongs to, and group-aware folds and validation splits in which no group is ever on
/// both sides.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>The key may be text, a key type, a number or a boolean. Missing values (empty text, key 0, NaN) form one group of their own.</item>
/// <item>Rows are identified by their position in an unshuffled cursor over the data the groups were read from.</item>
/// <item>Folds are balanced by rows: groups, in a seeded order, go largest first to the fold with the fewest rows.</item>
/// </list>
/// </remarks>
public sealed class SamplingKeyGroups
{
    /// <summary>The name a missing key value's group is reported under.</summary>
    public const string MissingGroupName = "(missing)";

    private SamplingKeyGroups(string column, int[] groupOfRow, string[] names)
    {
        ColumnName = column; GroupOfRow = groupOfRow; GroupNames = names;
        var counts = new int[names.Length];
        foreach (int g in groupOfRow) counts[g]++;
        RowsPerGroup = counts;
    }

    /// <summary>The sampling key column.</summary>
    public string ColumnName { get; }

    /// <summary>Each row's group index (by row position).</summary>
    public IReadOnlyList<int> GroupOfRow { get; }

    /// <summary>Each group's key value as text, in order of first appearance.</summary>
    public IReadOnlyList<string> GroupNames { get; }

    /// <summary>Rows per group.</summary>
    public IReadOnlyList<int> RowsPerGroup { get; }

    /// <summary>Number of groups.</summary>
    public int Count => GroupNames.Count;

    /// <summary>Number of rows.</summary>
    public int RowCount => GroupOfRow.Count;

    /// <summary>The group of the row at <paramref name="position"/>.</summary>
    public int GroupOf(long position)
    {
        if (position < 0 || position >= GroupOfRow.Count)
            throw new ArgumentOutOfRangeException(nameof(position), position,
                $"Row {position} is outside the {GroupOfRow.Count} rows whose sampling key '{ColumnName}' was read." + Environment.NewLine +
                "Hint: read the groups from the same data view that is split.");
        return GroupOfRow[(int)position];
    }

    /// <summary>
    /// Reads the groups of <paramref name="column"/> in one pass over <paramref name="data"/>.
    /// Throws naming the column when it does not exist or is not a scalar.
    /// </summary>
    public static SamplingKeyGroups Read(IDataView data, string column)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (string.IsNullOrWhiteSpace(column)) throw new ArgumentException("The sampling key column name is empty." + Environment.NewLine +
            "Hint: pass the name of the column that identifies the groups (for example \"Speaker\"), or null to split rows at random.", nameof(column));
        var col = SchemaErrors.FindColumn(data.Schema, column,
            $"the sampling key column '{column}' must be a column of the data (keep it through the feature pipeline, e.g. in SelectColumns).");
        if (col.Type is VectorDataViewType)
            throw SchemaErrors.Mismatch(column, "a scalar (text, key, number or boolean) sampling key", col.Type,
                "pass a column with one group identifier per row.");
        var names = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var rows = new List<int>();
        using (var cursor = data.GetRowCursor(new[] { col }))
        {
            var read = KeyReader(cursor, col);
            while (cursor.MoveNext())
            {
                string key = read() ?? MissingGroupName;
                if (!index.TryGetValue(key, out int g)) { g = names.Count; index[key] = g; names.Add(key); }
                rows.Add(g);
            }
        }
        return new SamplingKeyGroups(column, rows.ToArray(), names.ToArray());
    }

    /// <summary>Returns a reader of the current row's key as text, or <c>null</c> when the value is missing.</summary>
    private static Func<string?> KeyReader(DataViewRow row, DataViewSchema.Column col)
    {
        switch (col.Type)
        {
            case TextDataViewType:
            {
                var g = row.GetGetter<ReadOnlyMemory<char>>(col); ReadOnlyMemory<char> v = default;
                return () => { g(ref v); return v.IsEmpty ? null : v.ToString(); };
            }
            case KeyDataViewType k:
                return Numeric(row, col, k.RawType, missingWhenZero: true);
            case BooleanDataViewType:
            {
                var g = row.GetGetter<bool>(col); bool v = false;
                return () => { g(ref v); return v ? "true" : "false"; };
            }
            case NumberDataViewType n:
                return Numeric(row, col, n.RawType, missingWhenZero: false);
            default:
                throw SchemaErrors.Mismatch(col.Name, "a text, key, numeric or boolean sampling key", col.Type,
                    "convert the column to text or a number (e.g. mlContext.Transforms.Conversion.ConvertType).");
        }
    }

    private static Func<string?> Numeric(DataViewRow row, DataViewSchema.Column col, Type raw, bool missingWhenZero)
    {
        var method = typeof(SamplingKeyGroups).GetMethod(nameof(NumericTyped), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        return (Func<string?>)method.MakeGenericMethod(raw).Invoke(null, new object[] { row, col, missingWhenZero })!;
    }

    private static Func<string?> NumericTyped<T>(DataViewRow row, DataViewSchema.Column col, bool missingWhenZero) where T : IConvertible
    {
        var g = row.GetGetter<T>(col); T v = default!;
        return () =>
        {
            g(ref v);
            double d = v.ToDouble(CultureInfo.InvariantCulture);
            if (double.IsNaN(d) || (missingWhenZero && d == 0)) return null;
            return v.ToString(CultureInfo.InvariantCulture);
        };
    }

    /// <summary>
    /// Assigns every group to one of <paramref name="folds"/> folds, balanced by rows. Throws naming the column when there
    /// are fewer groups than folds, or when one group holds every row.
    /// </summary>
    /// <returns>The fold of each group.</returns>
    public int[] FoldOfGroup(int folds, int seed)
    {
        if (folds < 2) throw new ArgumentOutOfRangeException(nameof(folds), folds, "Group-aware folds need at least 2 folds.");
        RequireSeveralGroups();
        if (Count < folds)
            throw new ArgumentException(
                $"The sampling key column '{ColumnName}' has {Count} distinct group(s) ({Describe()}), fewer than the {folds} folds requested; " +
                "a fold would have no rows." + Environment.NewLine +
                $"Hint: use at most {Count} folds (with {Count} folds every group is held out once: leave-one-group-out), or a finer group column.", nameof(folds));
        var order = Enumerable.Range(0, Count).ToArray();
        new Random(seed).Shuffle(order);
        var byRows = order.OrderByDescending(g => RowsPerGroup[g]).ToArray();   // stable: ties keep the seeded order
        var fold = new int[Count];
        var load = new long[folds];
        foreach (int g in byRows)
        {
            int f = 0;
            for (int i = 1; i < folds; i++) if (load[i] < load[f]) f = i;
            fold[g] = f; load[f] += RowsPerGroup[g];
        }
        return fold;
    }

    /// <summary>The fold of the row at <paramref name="position"/>, given <see cref="FoldOfGroup"/>'s result.</summary>
    public int FoldOfRow(long position, int[] foldOfGroup) => foldOfGroup[GroupOf(position)];

    /// <summary>
    /// Chooses whole groups for validation: groups in a seeded order are held out until they hold at least
    /// <paramref name="fraction"/> of the rows, at least one group and never all of them.
    /// </summary>
    /// <returns>For each group, whether it validates.</returns>
    public bool[] ValidationGroups(double fraction, int seed)
    {
        if (!(fraction > 0 && fraction < 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The validation fraction must be in (0, 1).");
        RequireSeveralGroups();
        var order = Enumerable.Range(0, Count).ToArray();
        new Random(seed).Shuffle(order);
        var held = new bool[Count];
        long rows = 0, target = (long)Math.Ceiling(fraction * RowCount);
        for (int i = 0; i < Count - 1 && (i == 0 || rows < target); i++) { held[order[i]] = true; rows += RowsPerGroup[order[i]]; }
        return held;
    }

    /// <summary>
    /// Splits <paramref name="data"/> by whole groups of <paramref name="column"/>: the groups <see cref="ValidationGroups"/>
    /// holds out (at least one, never all; ML.NET's hashed group split of three or four groups often holds out none).
    /// </summary>
    /// <returns>The rows of the kept groups and the rows of the held-out groups.</returns>
    public static (IDataView Kept, IDataView HeldOut) HoldOutGroups(IDataView data, string column, double fraction, int seed)
    {
        var groups = Read(data, column);
        var held = groups.ValidationGroups(fraction, seed);
        return (groups.Filter(data, g => !held[g]), groups.Filter(data, g => held[g]));
    }

    /// <summary>
    /// The rows of <paramref name="data"/> (the view the groups were read from, or one with the same rows in the same
    /// order) whose group <paramref name="includeGroup"/> keeps.
    /// </summary>
    public IDataView Filter(IDataView data, Func<int, bool> includeGroup)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(includeGroup);
        var keep = Enumerable.Range(0, Count).Select(includeGroup).ToArray();
        return new RowFilterDataView(data, Array.Empty<string>(), row => () => keep[GroupOf(row.Position)]);
    }

    /// <summary>
    /// Leave-one-group-out: for every group, the rows of all other groups (to train on) and that group's rows (to test
    /// on), in order of first appearance. Throws naming the column when there is a single group.
    /// </summary>
    public IEnumerable<(string Group, IDataView Train, IDataView Test)> LeaveOneGroupOut(IDataView data)
    {
        RequireSeveralGroups();
        for (int g = 0; g < Count; g++)
        {
            int held = g;
            yield return (GroupNames[g], Filter(data, x => x != held), Filter(data, x => x == held));
        }
    }

    /// <summary>Throws naming the column when the data has no rows or all rows are in one group.</summary>
    public void RequireSeveralGroups()
    {
        if (RowCount == 0)
            throw new InvalidOperationException($"The data has no rows, so the sampling key column '{ColumnName}' has no groups." + Environment.NewLine +
                "Hint: check that the data view is not empty.");
        if (Count == 1)
            throw new ArgumentException(
                $"The sampling key column '{ColumnName}' has a single group ('{GroupNames[0]}') holding all {RowCount} rows; " +
                "group-aware splitting needs at least two groups, so nothing could be held out." + Environment.NewLine +
                "Hint: pass the column that identifies the groups (speaker, site, patient), or leave the sampling key unset to split rows at random.");
    }

    private string Describe() => string.Join(", ", GroupNames.Take(8).Select((n, i) => $"'{n}': {RowsPerGroup[i]} rows")) + (Count > 8 ? ", …" : "");
}
