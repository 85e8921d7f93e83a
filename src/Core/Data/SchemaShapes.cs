using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Data;

/// <summary>
/// Builds <see cref="SchemaShape"/> columns for estimators' <c>GetOutputSchema</c>.
/// </summary>
/// <remarks>
/// ML.NET (5 and 6) keeps <c>SchemaShape.Column</c>'s constructor internal, yet <see cref="IEstimator{TTransformer}"/> requires
/// third-party estimators to return new columns. The column's data are public read-only fields (<c>Name</c>, <c>Kind</c>,
/// <c>ItemType</c>, <c>IsKey</c>, <c>Annotations</c>), so this sets those public fields on a boxed default value. That relies
/// only on the public field names; <c>MLNetInternalsGuardTests.SchemaShapeColumnsCanBeBuiltThroughTheirPublicFields</c> fails loudly if an ML.NET update changes them.
/// </remarks>
internal static class SchemaShapes
{
    private static readonly FieldInfo? NameField = typeof(SchemaShape.Column).GetField(nameof(SchemaShape.Column.Name));
    private static readonly FieldInfo? KindField = typeof(SchemaShape.Column).GetField(nameof(SchemaShape.Column.Kind));
    private static readonly FieldInfo? ItemTypeField = typeof(SchemaShape.Column).GetField(nameof(SchemaShape.Column.ItemType));
    private static readonly FieldInfo? IsKeyField = typeof(SchemaShape.Column).GetField(nameof(SchemaShape.Column.IsKey));
    private static readonly FieldInfo? AnnotationsField = typeof(SchemaShape.Column).GetField(nameof(SchemaShape.Column.Annotations));

    /// <summary>Creates a column shape.</summary>
    public static SchemaShape.Column Column(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey, SchemaShape? annotations = null)
    {
        if (NameField is null || KindField is null || ItemTypeField is null || IsKeyField is null || AnnotationsField is null)
            throw new InvalidOperationException(
                $"MLNetFusion cannot build SchemaShape columns with ML.NET {typeof(SchemaShape).Assembly.GetName().Version}: a public field of SchemaShape.Column is gone." +
                Environment.NewLine + "Hint: use the Microsoft.ML 6.0.x version MLNetFusion is built against.");
        object boxed = default(SchemaShape.Column);
        NameField.SetValue(boxed, name);
        KindField.SetValue(boxed, kind);
        ItemTypeField.SetValue(boxed, itemType);
        IsKeyField.SetValue(boxed, isKey);
        AnnotationsField.SetValue(boxed, annotations ?? new SchemaShape(Array.Empty<SchemaShape.Column>()));
        return (SchemaShape.Column)boxed;
    }

    /// <summary>
    /// The <see cref="SchemaShape"/> of a <see cref="DataViewSchema"/>, as ML.NET's internal <c>SchemaShape.Create</c>
    /// builds it (visible columns; keys have <c>IsKey</c> and their raw item type; annotations one level deep).
    /// </summary>
    public static SchemaShape FromSchema(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return new SchemaShape(schema.Where(c => !c.IsHidden).Select(c =>
        {
            var (kind, item, isKey) = Describe(c.Type);
            var annotations = new SchemaShape(c.Annotations.Schema.Select(a =>
            {
                var (ak, ai, akey) = Describe(a.Type);
                return Column(a.Name, ak, ai, akey);
            }));
            return Column(c.Name, kind, item, isKey, annotations);
        }));
    }

    private static (SchemaShape.Column.VectorKind, DataViewType, bool) Describe(DataViewType type)
    {
        var kind = type is VectorDataViewType v ? (v.IsKnownSize ? SchemaShape.Column.VectorKind.Vector : SchemaShape.Column.VectorKind.VariableVector) : SchemaShape.Column.VectorKind.Scalar;
        var item = type is VectorDataViewType vt ? vt.ItemType : type;
        if (item is KeyDataViewType key)
        {
            var raw = key.RawType == typeof(byte) ? NumberDataViewType.Byte : key.RawType == typeof(ushort) ? NumberDataViewType.UInt16
                : key.RawType == typeof(ulong) ? NumberDataViewType.UInt64 : (DataViewType)NumberDataViewType.UInt32;
            return (kind, raw, true);
        }
        return (kind, item, false);
    }

    /// <summary>Returns the input columns, with later columns of the same name replacing earlier ones, plus <paramref name="added"/>.</summary>
    public static SchemaShape Append(SchemaShape input, IEnumerable<SchemaShape.Column> added)
    {
        var result = new List<SchemaShape.Column>();
        var addedList = added.ToList();
        var names = new HashSet<string>(addedList.Select(c => c.Name));
        result.AddRange(input.Where(c => !names.Contains(c.Name)));
        result.AddRange(addedList);
        return new SchemaShape(result);
    }

    /// <summary>Finds a column or throws ML.NET's "Could not find input column" error with a hint.</summary>
    public static SchemaShape.Column Find(SchemaShape shape, string name, string? hint = null)
    {
        foreach (var c in shape)
            if (c.Name == name) return c;
        throw SchemaErrors.NotFound(name, shape.Select(c => c.Name), hint);
    }

    /// <summary>Requires a <c>Vector&lt;Single&gt;</c> (or Single) column.</summary>
    public static SchemaShape.Column RequireFloatVector(SchemaShape shape, string name)
    {
        var c = Find(shape, name);
        if (c.ItemType != NumberDataViewType.Single || c.IsKey || c.Kind == SchemaShape.Column.VectorKind.VariableVector)
            throw SchemaErrors.Mismatch(name, "Vector<Single> of known size", Describe(c), SchemaErrors.FloatVectorHint(name,
                otherNumber: c.ItemType is NumberDataViewType && !c.IsKey, variableSize: c.Kind == SchemaShape.Column.VectorKind.VariableVector && c.ItemType == NumberDataViewType.Single));
        return c;
    }

    /// <summary>Requires a scalar text column, for a transform that reads one (<paramref name="transform"/>, <paramref name="option"/> names the option that chose the column).</summary>
    public static SchemaShape.Column RequireText(SchemaShape shape, string name, string transform, string option)
    {
        var c = Find(shape, name, $"{transform} reads a text column; check {option}.");
        if (c.Kind != SchemaShape.Column.VectorKind.Scalar || c.ItemType is not TextDataViewType)
            throw SchemaErrors.Mismatch(name, "String", Describe(c), "load the column as text (TextLoader DataKind.String).");
        return c;
    }

    /// <summary>Requires a scalar column whose item type <paramref name="accepts"/> (an image, for example), else ML.NET's errors with a hint.</summary>
    /// <param name="shape">The input shape.</param>
    /// <param name="name">The column.</param>
    /// <param name="accepts">Whether the item type is the one wanted.</param>
    /// <param name="expected">The wanted type, as the mismatch error names it.</param>
    /// <param name="notFoundHint">The fix when the column is absent.</param>
    /// <param name="mismatchHint">The fix when it has another type.</param>
    public static SchemaShape.Column RequireScalar(SchemaShape shape, string name, Func<DataViewType, bool> accepts, string expected, string notFoundHint, string mismatchHint)
    {
        var c = Find(shape, name, notFoundHint);
        if (c.Kind != SchemaShape.Column.VectorKind.Scalar || !accepts(c.ItemType))
            throw SchemaErrors.Mismatch(name, expected, Describe(c), mismatchHint);
        return c;
    }

    /// <summary>Requires a key-typed label.</summary>
    public static SchemaShape.Column RequireKeyLabel(SchemaShape shape, string name)
    {
        var c = Find(shape, name, SchemaErrors.LabelNotFoundHint(name));
        if (!c.IsKey || c.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw SchemaErrors.Mismatch(name, "Key<UInt32> (a key type with a known count)", Describe(c), SchemaErrors.KeyLabelHint(name));
        return c;
    }

    /// <summary>The standard multiclass output columns (<c>Score</c>, <c>PredictedLabel</c>) as ML.NET's trainers declare them.</summary>
    /// <remarks>A <c>null</c> name omits that column (featurizers output neither).</remarks>
    public static IEnumerable<SchemaShape.Column> MulticlassOutputs(SchemaShape.Column label, string? scoreColumn = "Score", string? predictedLabelColumn = "PredictedLabel")
    {
        var scoreAnnotations = new SchemaShape(new[]
        {
            Column(AnnotationNames.SlotNames, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false),
            Column(AnnotationNames.ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            Column(AnnotationNames.ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
        });
        if (scoreColumn != null)
            yield return Column(scoreColumn, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, scoreAnnotations);
        var keyValues = label.Annotations.Where(a => a.Name == AnnotationNames.KeyValues).ToArray();
        if (predictedLabelColumn != null)
            yield return Column(predictedLabelColumn, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, new SchemaShape(keyValues));
    }

    private static string Describe(SchemaShape.Column c)
        => c.Kind switch
        {
            SchemaShape.Column.VectorKind.Scalar => c.IsKey ? $"Key<{c.ItemType.RawType.Name}>" : c.ItemType.RawType == typeof(ReadOnlyMemory<char>) ? "String" : c.ItemType.RawType.Name,
            SchemaShape.Column.VectorKind.Vector => $"Vector<{(c.ItemType.RawType == typeof(ReadOnlyMemory<char>) ? "String" : c.ItemType.RawType.Name)}>",
            _ => $"VarVector<{(c.ItemType.RawType == typeof(ReadOnlyMemory<char>) ? "String" : c.ItemType.RawType.Name)}>",
        };
}

/// <summary>Standard ML.NET annotation names and values used by MLNetFusion.</summary>
internal static class AnnotationNames
{
    /// <summary>Slot names of a vector column.</summary>
    public const string SlotNames = "SlotNames";
    /// <summary>Key values of a key column.</summary>
    public const string KeyValues = "KeyValues";
    /// <summary>The kind of score column (e.g. MulticlassClassification).</summary>
    public const string ScoreColumnKind = "ScoreColumnKind";
    /// <summary>The kind of value in a score column (Score).</summary>
    public const string ScoreValueKind = "ScoreValueKind";
    /// <summary>Value of <see cref="ScoreColumnKind"/> for multiclass trainers.</summary>
    public const string MulticlassClassification = "MulticlassClassification";
    /// <summary>Value of <see cref="ScoreValueKind"/> for scores.</summary>
    public const string Score = "Score";
}
