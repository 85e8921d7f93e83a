using MLNetFusion.Trainers;
using MLNetFusion.AutoML.Leaderboard;
using SkiaSharp;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>
/// Draws the leaderboard as a horizontal bar chart to a PNG file: per entry, the accuracy that ranks and recommends
/// (group-out, out-of-fold or validation) with a whisker of one standard error, and the test accuracy, on one 0-to-1
/// axis, each bar labelled with its value; a dashed line at chance (1 / classes). ★ marks the recommended entry, ≈ the
/// entries within one standard error of the best.
/// </summary>
public static class LeaderboardChart
{
    /// <summary>Writes the chart to <paramref name="path"/>.</summary>
    /// <param name="path">The PNG file.</param>
    /// <param name="title">The chart title.</param>
    /// <param name="entries">The entries, best first.</param>
    /// <param name="classes">Number of classes, for the chance line (0: none).</param>
    /// <param name="recommended">The recommended entry, marked ★, or <c>null</c>.</param>
    /// <param name="judged">What ranks the entries, as the legend names it (for example "out-of-fold accuracy").</param>
    public static void Write(string path, string title, IReadOnlyList<LeaderboardEntry> entries, int classes = 0, LeaderboardEntry? recommended = null,
        string judged = "validation accuracy")
    {
        const int rowHeight = 40;
        using var text = new ChartText(15);
        using var bold = new ChartText(15, bold: true);
        using var small = new ChartText(12);
        var best = entries.FirstOrDefault();
        // ★ is drawn (the default typeface may lack the glyph); ≈ is text.
        string Mark(LeaderboardEntry e) => e != recommended && best != null && e != best && e.WithinOneStandardErrorOf(best) ? "≈ " : "";
        // The label column is as wide as the longest label, so no label is cut off; the plot keeps its width.
        string Label(LeaderboardEntry e) => $"{Mark(e)}{e.Family}: {e.Name}";
        const int indent = 30;
        int left = indent + 20 + (int)Math.Ceiling(entries.Select(e => bold.Measure(Label(e))).DefaultIfEmpty(0).Max());
        const int right = 90, top = 60, plot = 740;
        int width = Math.Max(left + plot + right, 1000);
        float plotWidth = width - left - right;
        // The caption wraps to the chart's width, so no word is cut off at the right edge.
        var caption = Wrap(small, $"{judged} (grey, with a whisker of ± one standard error) ranks the entries and chose the recommended one (the star); ≈: within one standard error " +
            "of the best, as good as it as far as the training rows can tell. Test accuracy (blue) is only reported: it never chose anything.", width - 40);
        int axis = top + 24 + rowHeight * Math.Max(1, entries.Count) - 24;
        int height = axis + 34 + 18 * caption.Count + 10;
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var titlePaint = new ChartText(20, bold: true);
        using var grid = new SKPaint { Color = new SKColor(220, 220, 220), StrokeWidth = 1 };
        using var testPaint = new SKPaint { Color = new SKColor(52, 101, 164) };
        using var judgedPaint = new SKPaint { Color = new SKColor(136, 138, 133) };
        using var whisker = new SKPaint { Color = SKColors.Black, StrokeWidth = 1.5f };
        titlePaint.Draw(canvas, title, 20, 32);
        for (int t = 0; t <= 10; t++)
        {
            float x = left + plotWidth * t / 10f;
            canvas.DrawLine(x, top - 5, x, axis, grid);
            text.Draw(canvas, $"{t / 10.0:0.0}", x - 10, axis + 20);
        }
        for (int l = 0; l < caption.Count; l++) small.Draw(canvas, caption[l], 20, axis + 42 + 18 * l);
        if (classes > 1)
        {
            float x = left + plotWidth / classes;
            using var chance = new SKPaint { Color = new SKColor(204, 0, 0), StrokeWidth = 1.5f, PathEffect = SKPathEffect.CreateDash(new[] { 6f, 4f }, 0) };
            canvas.DrawLine(x, top - 5, x, axis, chance);
            small.Draw(canvas, $"chance {1.0 / classes:P0}", x + 4, top - 8);
        }
        using var labelBack = new SKPaint { Color = SKColors.White };
        void Value(ChartText font, string value, float x, float baseline, float size)
        {
            // A white box under each value label, so gridlines never cross the digits.
            canvas.DrawRect(x - 2, baseline - size, font.Measure(value) + 4, size + 3, labelBack);
            font.Draw(canvas, value, x, baseline);
        }
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            float y = top + i * rowHeight;
            if (e == recommended) DrawStar(canvas, 18, y + 16, 9);
            (e == recommended ? bold : text).Draw(canvas, Label(e), indent, y + 21);
            double j = e.RankingAccuracy, se = double.IsNaN(e.RankingStandardError) ? 0 : e.RankingStandardError;
            float jx = left + plotWidth * (float)Math.Clamp(j, 0, 1);
            canvas.DrawRect(left, y + 4, jx - left, 13, judgedPaint);
            if (se > 0)
            {
                float lo = left + plotWidth * (float)Math.Clamp(j - se, 0, 1), hi = left + plotWidth * (float)Math.Clamp(j + se, 0, 1);
                canvas.DrawLine(lo, y + 10.5f, hi, y + 10.5f, whisker);
                canvas.DrawLine(lo, y + 6, lo, y + 15, whisker);
                canvas.DrawLine(hi, y + 6, hi, y + 15, whisker);
            }
            Value(text, $"{j:P1}", left + plotWidth * (float)Math.Clamp(j + se, 0, 1) + 6, y + 17, 14);
            float tx = plotWidth * (float)Math.Clamp(double.IsFinite(e.Accuracy) ? e.Accuracy : 0, 0, 1);
            canvas.DrawRect(left, y + 18, tx, 13, testPaint);
            Value(text, $"{e.Accuracy:P1}", left + tx + 6, y + 31, 14);
        }
        float legend = width - 20 - text.Measure(judged) - text.Measure("test accuracy") - 70;
        canvas.DrawRect(legend, 14, 14, 14, judgedPaint); text.Draw(canvas, judged, legend + 20, 26);
        float second = legend + 30 + text.Measure(judged);
        canvas.DrawRect(second, 14, 14, 14, testPaint); text.Draw(canvas, "test accuracy", second + 20, 26);
        SavePng(surface, path);
    }

    private static void DrawStar(SKCanvas canvas, float cx, float cy, float radius)
    {
        using var path = new SKPath();
        for (int k = 0; k < 10; k++)
        {
            double angle = -Math.PI / 2 + k * Math.PI / 5;
            float r = k % 2 == 0 ? radius : radius * 0.45f;
            var point = new SKPoint(cx + r * (float)Math.Cos(angle), cy + r * (float)Math.Sin(angle));
            if (k == 0) path.MoveTo(point); else path.LineTo(point);
        }
        path.Close();
        using var paint = new SKPaint { Color = new SKColor(237, 212, 0), IsAntialias = true };
        using var outline = new SKPaint { Color = new SKColor(140, 110, 0), IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        canvas.DrawPath(path, paint);
        canvas.DrawPath(path, outline);
    }

    /// <summary>Splits <paramref name="text"/> into lines no wider than <paramref name="width"/> pixels in <paramref name="font"/>.</summary>
    internal static List<string> Wrap(ChartText font, string text, float width)
    {
        var lines = new List<string>();
        var line = "";
        foreach (var word in text.Split(' '))
        {
            string next = line.Length == 0 ? word : line + " " + word;
            if (line.Length > 0 && font.Measure(next) > width) { lines.Add(line); line = word; }
            else line = next;
        }
        if (line.Length > 0) lines.Add(line);
        return lines;
    }

    /// <summary>Encodes <paramref name="surface"/> as PNG to <paramref name="path"/>, creating its folder.</summary>
    internal static void SavePng(SKSurface surface, string path)
    {
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var fs = File.Create(path);
        data.SaveTo(fs);
    }
}
