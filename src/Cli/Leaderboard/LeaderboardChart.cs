using MLNetFusion.Trainers;
using MLNetFusion.AutoML.Leaderboard;
using SkiaSharp;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>
/// Draws the leaderboard as a horizontal bar chart to a PNG file: accuracy (and group-out accuracy) and macro-F1 per
/// entry on one 0-to-1 axis, each bar labelled with its value, and a dashed line at chance (1 / classes).
/// </summary>
public static class LeaderboardChart
{
    /// <summary>Writes the chart to <paramref name="path"/>.</summary>
    /// <param name="path">The PNG file.</param>
    /// <param name="title">The chart title.</param>
    /// <param name="entries">The entries, best first.</param>
    /// <param name="classes">Number of classes, for the chance line (0: none).</param>
    public static void Write(string path, string title, IReadOnlyList<LeaderboardEntry> entries, int classes = 0)
    {
        bool groups = entries.Any(e => e.GroupOutAccuracy.HasValue);
        int rowHeight = groups ? 50 : 38;
        using var text = new ChartText(15);
        using var small = new ChartText(12);
        // The label column is as wide as the longest label, so no label is cut off; the plot keeps its width.
        string Label(LeaderboardEntry e) => $"{e.Family}: {e.Name}";
        int left = 20 + (int)Math.Ceiling(entries.Select(e => text.Measure(Label(e))).DefaultIfEmpty(0).Max());
        const int right = 90, top = 60, bottom = 40, plot = 740;
        int width = Math.Max(left + plot + right, 900);
        int height = top + bottom + 24 + rowHeight * Math.Max(1, entries.Count);
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var titlePaint = new ChartText(20, bold: true);
        using var grid = new SKPaint { Color = new SKColor(220, 220, 220), StrokeWidth = 1 };
        using var accPaint = new SKPaint { Color = new SKColor(52, 101, 164) };
        using var f1Paint = new SKPaint { Color = new SKColor(245, 121, 0) };
        using var groupPaint = new SKPaint { Color = new SKColor(78, 154, 6) };
        titlePaint.Draw(canvas, title, 20, 32);
        float plotWidth = width - left - right;
        int axis = height - bottom - 24;
        for (int t = 0; t <= 10; t++)
        {
            float x = left + plotWidth * t / 10f;
            canvas.DrawLine(x, top - 5, x, axis, grid);
            text.Draw(canvas, $"{t / 10.0:0.0}", x - 10, axis + 20);
        }
        small.Draw(canvas, "accuracy (shown as %) and macro-F1, both from 0 to 1; entries ordered by validation accuracy (leave-one-group-out when measured), not by these test bars", left, axis + 40);
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
            text.Draw(canvas, Label(e), 10, y + 21);
            canvas.DrawRect(left, y + 4, plotWidth * (float)e.Accuracy, 13, accPaint);
            Value(text, $"{e.Accuracy:P1}", left + plotWidth * (float)e.Accuracy + 6, y + 17, 14);
            float next = y + 17;
            if (e.GroupOutAccuracy is double g)
            {
                canvas.DrawRect(left, next, plotWidth * (float)g, 13, groupPaint);
                Value(text, $"{g:P1}", left + plotWidth * (float)g + 6, next + 12, 14);
                next += 13;
            }
            float f1 = (float)Math.Max(0, e.MacroF1);
            canvas.DrawRect(left, next, plotWidth * f1, 11, f1Paint);
            Value(small, $"{f1:F3}", left + plotWidth * f1 + 6, next + 10, 11);
        }
        if (groups) { canvas.DrawRect(width - 440, 14, 14, 14, groupPaint); text.Draw(canvas, "group-out accuracy", width - 420, 26); }
        canvas.DrawRect(width - 260, 14, 14, 14, accPaint); text.Draw(canvas, "test accuracy", width - 240, 26);
        canvas.DrawRect(width - 120, 14, 14, 14, f1Paint); text.Draw(canvas, "macro-F1", width - 100, 26);
        SavePng(surface, path);
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
