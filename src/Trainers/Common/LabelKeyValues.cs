using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;

namespace MLNetFusion.Trainers;

/// <summary>
/// The label's key values (e.g. the original class names or digits) captured at training time, so that
/// <c>PredictedLabel</c> carries them and <c>MapKeyToValue</c> restores the original labels.
/// </summary>
public sealed class LabelKeyValues
{
    private LabelKeyValues(int count, DataViewType? itemType, object? values, string[] names)
    {
        Count = count; ItemType = itemType; Values = values; Names = names;
    }

    /// <summary>Number of classes.</summary>
    public int Count { get; }

    /// <summary>The key values' item type, or <c>null</c> if the label had none.</summary>
    public DataViewType? ItemType { get; }

    /// <summary>The key values as a <c>VBuffer&lt;T&gt;</c>, or <c>null</c>.</summary>
    public object? Values { get; }

    /// <summary>Each class's key value as text (used as the Score column's slot names).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Reads the key values of <paramref name="label"/>.</summary>
    public static LabelKeyValues FromColumn(DataViewSchema.Column label)
    {
        int count = (int)((KeyDataViewType)label.Type).Count;
        var kv = label.Annotations.Schema.GetColumnOrNull(AnnotationNames.KeyValues);
        if (kv is null || kv.Value.Type is not VectorDataViewType vt)
            return new LabelKeyValues(count, null, null, Enumerable.Range(0, count).Select(i => i.ToString()).ToArray());
        var m = typeof(LabelKeyValues).GetMethod(nameof(Read), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(vt.ItemType.RawType);
        var (values, names) = ((object, string[]))m.Invoke(null, new object[] { label.Annotations, kv.Value })!;
        return new LabelKeyValues(count, vt.ItemType, values, names);
    }

    /// <summary>Creates key values from text class names.</summary>
    public static LabelKeyValues FromNames(IReadOnlyList<string> names)
    {
        var values = new VBuffer<ReadOnlyMemory<char>>(names.Count, names.Select(n => n.AsMemory()).ToArray());
        return new LabelKeyValues(names.Count, TextDataViewType.Instance, values, names.ToArray());
    }

    private static (object, string[]) Read<T>(DataViewSchema.Annotations annotations, DataViewSchema.Column kv)
    {
        VBuffer<T> values = default;
        annotations.GetValue(AnnotationNames.KeyValues, ref values);
        var dense = values.DenseValues().ToArray();
        var copy = new VBuffer<T>(dense.Length, dense);
        return (copy, dense.Select(v => v?.ToString() ?? "").ToArray());
    }

    /// <summary>The key values as invariant text with their item type, for the model file.</summary>
    internal LabelKeyValuesData ToData()
    {
        if (ItemType == null || Values == null) return new LabelKeyValuesData(Count, null, null);
        var m = typeof(LabelKeyValues).GetMethod(nameof(FormatValues), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(ItemType.RawType);
        return new LabelKeyValuesData(Count, ItemTypeName(ItemType), (string[])m.Invoke(null, new[] { Values })!);
    }

    /// <summary>Restores key values written by <see cref="ToData"/>.</summary>
    /// <exception cref="FormatException">The data is inconsistent.</exception>
    internal static LabelKeyValues FromData(LabelKeyValuesData data)
    {
        if (data.Count <= 0 || data.Count > 1_000_000) throw new FormatException($"the class count {data.Count} is out of range");
        if (data.ItemType == null || data.Values == null)
            return new LabelKeyValues(data.Count, null, null, Enumerable.Range(0, data.Count).Select(i => i.ToString()).ToArray());
        if (data.Values.Length != data.Count) throw new FormatException($"{data.Values.Length} key values for {data.Count} classes");
        var type = ParseItemType(data.ItemType);
        var m = typeof(LabelKeyValues).GetMethod(nameof(ParseValues), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(type.RawType);
        var values = m.Invoke(null, new object[] { data.Values })!;
        return new LabelKeyValues(data.Count, type, values, data.Values.ToArray());
    }

    private static readonly (string name, PrimitiveDataViewType type)[] ItemTypes =
    {
        ("Text", TextDataViewType.Instance), ("Boolean", BooleanDataViewType.Instance),
        ("Single", NumberDataViewType.Single), ("Double", NumberDataViewType.Double),
        ("SByte", NumberDataViewType.SByte), ("Byte", NumberDataViewType.Byte), ("Int16", NumberDataViewType.Int16), ("UInt16", NumberDataViewType.UInt16),
        ("Int32", NumberDataViewType.Int32), ("UInt32", NumberDataViewType.UInt32), ("Int64", NumberDataViewType.Int64), ("UInt64", NumberDataViewType.UInt64),
    };

    private static string ItemTypeName(DataViewType t)
        => ItemTypes.FirstOrDefault(x => x.type.Equals(t)).name ?? throw new NotSupportedException(
            $"Label key values of type {t} cannot be saved." + Environment.NewLine + "Hint: map the label to text or numbers before MapValueToKey.");

    private static PrimitiveDataViewType ParseItemType(string name)
        => ItemTypes.FirstOrDefault(x => x.name == name).type ?? throw new FormatException($"unknown key value type '{name}'");

    private static string[] FormatValues<T>(object values)
        => ((VBuffer<T>)values).DenseValues().Select(v => v switch
        {
            ReadOnlyMemory<char> m => m.ToString(),
            IFormattable f => f.ToString(v is float or double ? "R" : null, System.Globalization.CultureInfo.InvariantCulture),
            _ => v?.ToString() ?? "",
        }).ToArray();

    private static object ParseValues<T>(string[] text)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        object Parse(string s) => typeof(T) == typeof(ReadOnlyMemory<char>) ? s.AsMemory()
            : typeof(T) == typeof(bool) ? bool.Parse(s)
            : Convert.ChangeType(s, typeof(T), inv);
        var values = text.Select(s => (T)Parse(s)).ToArray();
        return new VBuffer<T>(values.Length, values);
    }

    /// <summary>Annotations for a <c>PredictedLabel</c> column (KeyValues).</summary>
    public DataViewSchema.Annotations KeyAnnotations()
    {
        var b = new DataViewSchema.Annotations.Builder();
        if (ItemType != null && Values != null)
        {
            var m = typeof(LabelKeyValues).GetMethod(nameof(AddKeyValues), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(ItemType.RawType);
            m.Invoke(null, new object[] { b, ItemType, Values });
        }
        return b.ToAnnotations();
    }

    private static void AddKeyValues<T>(DataViewSchema.Annotations.Builder b, DataViewType itemType, object values)
    {
        var v = (VBuffer<T>)values;
        b.Add(AnnotationNames.KeyValues, new VectorDataViewType((PrimitiveDataViewType)itemType, v.Length), (ref VBuffer<T> dst) => v.CopyTo(ref dst));
    }

    /// <summary>Annotations for a multiclass <c>Score</c> column: slot names, score column kind and value kind.</summary>
    public DataViewSchema.Annotations ScoreAnnotations()
    {
        var b = new DataViewSchema.Annotations.Builder();
        var names = new VBuffer<ReadOnlyMemory<char>>(Count, Names.Select(n => n.AsMemory()).ToArray());
        b.Add(AnnotationNames.SlotNames, new VectorDataViewType(TextDataViewType.Instance, Count), (ref VBuffer<ReadOnlyMemory<char>> dst) => names.CopyTo(ref dst));
        b.Add(AnnotationNames.ScoreColumnKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> dst) => dst = AnnotationNames.MulticlassClassification.AsMemory());
        b.Add(AnnotationNames.ScoreValueKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> dst) => dst = AnnotationNames.Score.AsMemory());
        return b.ToAnnotations();
    }
}

/// <summary>Serialisable form of <see cref="LabelKeyValues"/>.</summary>
/// <param name="Count">Number of classes.</param>
/// <param name="ItemType">Key value type name (<c>Text</c>, <c>Single</c>, ...), or null when the label had none.</param>
/// <param name="Values">The key values as invariant text.</param>
internal sealed record LabelKeyValuesData(int Count, string? ItemType, string[]? Values);
