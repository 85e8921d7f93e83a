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
