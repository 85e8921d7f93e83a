using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Data;

/// <summary>
/// The one vocabulary of schema errors, for data views (here) and for estimators' schema shapes
/// (<see cref="SchemaShapes"/>): problems in ML.NET's words ("Could not find input column 'X'",
/// "Schema mismatch for input column 'X': expected ..., got ...") followed by a <c>Hint:</c> line with the fix.
/// </summary>
internal static class SchemaErrors
{
    /// <summary>ML.NET's "Could not find input column" error, with the available columns and a hint.</summary>
    public static ArgumentOutOfRangeException NotFound(string name, IEnumerable<string> available, string? hint = null, string? role = null)
        => new("schema", $"Could not find input column '{name}'{(role == null ? "" : " " + role)}. Available columns: {string.Join(", ", available.Select(c => $"'{c}'"))}." +
               Environment.NewLine + "Hint: " + (hint ?? $"check the spelling, or add a transform that produces '{name}' before this step."));

    /// <summary>The hint for a missing key label.</summary>
    public static string LabelNotFoundHint(string name)
        => $"the label column '{name}' must exist: set the trainer's LabelColumnName (labelColumnName) to your key label, or map your label to a key named '{name}' (MapValueToKey).";

    /// <summary>The hint for a label that is not a key.</summary>
    public static string KeyLabelHint(string name) => $"map the label to a key first: mlContext.Transforms.Conversion.MapValueToKey(\"{name}\").";

    /// <summary>The hint for a column that is not a known-size <c>Vector&lt;Single&gt;</c>: by what it is instead.</summary>
    public static string FloatVectorHint(string name, bool otherNumber, bool variableSize)
        => otherNumber ? $"convert it with mlContext.Transforms.Conversion.ConvertType(\"{name}\", outputKind: DataKind.Single)."
            : variableSize ? "give the vector a fixed size (for example LoadAudio with a fixed duration, or ResizeImages before ExtractPixels)."
            : $"turn '{name}' into numbers first (Concatenate numeric columns, OneHotEncoding for text categories, ExtractPixels for images).";

    /// <summary>Builds ML.NET's "Schema mismatch" error from a type description.</summary>
    public static ArgumentOutOfRangeException Mismatch(string column, string expected, string actual, string hint)
        => new(nameof(column), $"Schema mismatch for input column '{column}': expected {expected}, got {actual}." + Environment.NewLine + "Hint: " + hint);

    /// <summary>Finds a column or throws ML.NET's "Could not find input column" error with a hint.</summary>
    /// <param name="schema">The schema to search.</param>
    /// <param name="name">The column.</param>
    /// <param name="hint">The fix, after <c>Hint:</c>.</param>
    /// <param name="role">Who needs the column, appended to the name (e.g. <c>of late-fusion member 'audio'</c>).</param>
    public static DataViewSchema.Column FindColumn(DataViewSchema schema, string name, string? hint = null, string? role = null)
    {
        var col = schema.GetColumnOrNull(name);
        if (col is null || col.Value.IsHidden) throw NotFound(name, schema.Where(c => !c.IsHidden).Select(c => c.Name), hint, role);
        return col.Value;
    }

    /// <summary>Builds ML.NET's "Schema mismatch" error with a hint.</summary>
    public static ArgumentOutOfRangeException Mismatch(string column, string expected, DataViewType actual, string hint)
        => Mismatch(column, expected, Describe(actual), hint);

    /// <summary>Requires a known-size <c>Vector&lt;Single&gt;</c> (or a scalar Single) column and returns its size.</summary>
    public static int RequireFloatVector(DataViewSchema schema, string name, string? hint = null)
    {
        var col = FindColumn(schema, name);
        if (col.Type == NumberDataViewType.Single) return 1;
        if (col.Type is VectorDataViewType v && v.ItemType == NumberDataViewType.Single && v.IsKnownSize) return v.Size;
        throw Mismatch(name, "Vector<Single> of known size", col.Type, hint ?? FloatVectorHint(name,
            otherNumber: (col.Type is VectorDataViewType { ItemType: NumberDataViewType } vv && vv.ItemType != NumberDataViewType.Single) || (col.Type is NumberDataViewType && col.Type != NumberDataViewType.Single),
            variableSize: col.Type is VectorDataViewType { IsKnownSize: false }));
    }

    /// <summary>Requires a key-typed label column and returns its key count.</summary>
    public static int RequireKeyLabel(DataViewSchema schema, string name)
    {
        var col = FindColumn(schema, name, LabelNotFoundHint(name));
        if (col.Type is KeyDataViewType key && key.Count > 0 && key.Count <= int.MaxValue) return (int)key.Count;
        throw Mismatch(name, "Key<UInt32> (a key type with a known count)", col.Type, KeyLabelHint(name));
    }

    /// <summary>
    /// Requires at least two classes among the rows of key label <paramref name="name"/>: a classifier trained on one class
    /// would predict it for every row. Reads only the label column and stops at the second class it sees.
    /// </summary>
    public static void RequireSeveralClasses(IDataView data, string name)
    {
        var column = data.Schema[name];
        uint first = 0;
        long rows = 0;
        using (var cursor = data.GetRowCursor(new[] { column }))
        {
            var getter = cursor.GetGetter<uint>(column);
            uint key = 0;
            while (cursor.MoveNext())
            {
                getter(ref key);
                if (key == 0) continue;
                rows++;
                if (first == 0) first = key;
                else if (key != first) return;
            }
        }
        string which = first == 0 ? "no labelled row" : $"only one class (key {first}, in all {rows} labelled rows)";
        throw new InvalidOperationException($"The training data has {which} in label column '{name}': a classifier needs at least two classes." + Environment.NewLine +
            "Hint: check the split or filter that produced the training rows (a group-wise split can leave one class on a side), and that the label column is the one you meant.");
    }

    /// <summary>A readable type name, as ML.NET prints it.</summary>
    public static string Describe(DataViewType type) => type switch
    {
        VectorDataViewType v when v.IsKnownSize => $"Vector<{Describe(v.ItemType)}, {string.Join(", ", v.Dimensions)}>",
        VectorDataViewType v => $"Vector<{Describe(v.ItemType)}>",
        KeyDataViewType k => $"Key<{k.RawType.Name}, 0-{k.Count - 1}>",
        TextDataViewType => "String",
        _ => type.RawType.Name,
    };
}
