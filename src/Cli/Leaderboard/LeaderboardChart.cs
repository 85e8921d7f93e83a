using MLNetFusion.Trainers;
using SkiaSharp;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>Draws the leaderboard as a horizontal bar chart (accuracy and macro-F1 per entry) to a PNG file.</summary>
public static class LeaderboardChart
{
    /// <summary>Writes the chart to <paramref name="path"/>.</summary>
    public static void Write(string path, string title, IReadOnlyList<LeaderboardEntry> entries)
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
        int height = top + bottom + rowHeight * Math.Max(1, entries.Count);
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
        for (int t = 0; t <= 10; t++)
        {
            float x = left + plotWidth * t / 10f;
            canvas.DrawLine(x, top - 5, x, height - bottom, grid);
            text.Draw(canvas, $"{t * 10}%", x - 12, height - bottom + 20);
        }
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            float y = top + i * rowHeight;
            text.Draw(canvas, Label(e), 10, y + 21);
            canvas.DrawRect(left, y + 4, plotWidth * (float)e.Accuracy, 13, accPaint);
            text.Draw(canvas, $"{e.Accuracy:P1}", left + plotWidth * (float)e.Accuracy + 6, y + 17);
            float next = y + 17;
            if (e.GroupOutAccuracy is double g)
            {
                canvas.DrawRect(left, next, plotWidth * (float)g, 13, groupPaint);
                text.Draw(canvas, $"{g:P1}", left + plotWidth * (float)g + 6, next + 12);
                next += 13;
            }
            float f1 = (float)Math.Max(0, e.MacroF1);
            canvas.DrawRect(left, next, plotWidth * f1, 11, f1Paint);
            small.Draw(canvas, $"{f1:F3}", left + plotWidth * f1 + 6, next + 10);
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
