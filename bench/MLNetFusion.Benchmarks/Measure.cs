using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Benchmarks;

/// <summary>The measuring helpers every benchmark shares: one JSON object per line, medians of alternating repetitions, consuming a column.</summary>
internal static class Measure
{
    private static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static void Emit(object o) => Console.WriteLine(JsonSerializer.Serialize(o, JsonOptions));

    /// <summary>Alternating repetitions per comparison.</summary>
    public const int Repetitions = 3;

    public static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }


    public static long Consume(IDataView data, string column)
    {
        long n = 0;
        using var cursor = data.GetRowCursor(new[] { data.Schema[column] });
        var g = cursor.GetGetter<VBuffer<float>>(data.Schema[column]);
        VBuffer<float> v = default;
        while (cursor.MoveNext()) { g(ref v); n++; }
        return n;
    }

}
