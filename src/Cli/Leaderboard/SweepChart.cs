using MLNetFusion.Trainers;
using MLNetFusion.AutoML.Sweep;
using SkiaSharp;

namespace MLNetFusion.Cli.Leaderboard;

/// <summary>Draws a sweep as validation accuracy against time, one colour per family, with the best-so-far line.</summary>
public static class SweepChart
{
    private static readonly Dictionary<FusionFamily, SKColor> Colors = new()
    {
        [FusionFamily.Early] = new SKColor(117, 80, 123), [FusionFamily.Late] = new SKColor(78, 154, 6), [FusionFamily.Merge] = new SKColor(52, 101, 164),
        [FusionFamily.Network] = new SKColor(245, 121, 0), [FusionFamily.CrossModal] = new SKColor(204, 0, 0), [FusionFamily.Hybrid] = new SKColor(193, 125, 17),
    };

    /// <summary>Writes the chart to <paramref name="path"/>.</summary>
    public static void Write(string path, string title, IReadOnlyList<FusionTrialResult> trials)
    {
        const int width = 1100, height = 650, left = 80, right = 200, top = 60, bottom = 60;
        var done = trials.Where(t => t.Status == FusionTrialStatus.Completed).ToList();
        double tMax = Math.Max(1, trials.Count == 0 ? 1 : trials.Max(t => t.FinishedAt.TotalSeconds));
        double yMin = done.Count == 0 ? 0 : Math.Floor(Math.Min(done.Min(t => t.Accuracy), 0.9) * 10) / 10, yMax = 1.0;
        float X(double s) => left + (float)(s / tMax) * (width - left - right);
        float Y(double a) => top + (float)((yMax - a) / Math.Max(1e-9, yMax - yMin)) * (height - top - bottom);

        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var text = new ChartText(14);
        using var titlePaint = new ChartText(20, bold: true);
        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1 };
        using var bestLine = new SKPaint { Color = SKColors.Black, StrokeWidth = 2, IsAntialias = true, Style = SKPaintStyle.Stroke };
        titlePaint.Draw(canvas, title + " — validation accuracy vs. time", 20, 32);
        for (int i = 0; i <= 5; i++)
        {
            double a = yMin + (yMax - yMin) * i / 5;
            canvas.DrawLine(left, Y(a), width - right, Y(a), grid);
            text.Draw(canvas, $"{a:P0}", 20, Y(a) + 5);
            double s = tMax * i / 5;
            text.Draw(canvas, $"{s:F0}s", X(s) - 12, height - bottom + 22);
        }
        text.Draw(canvas, "time since the sweep started", width / 2 - 100, height - 15);

        double best = double.NegativeInfinity; var prev = (x: (float)left, y: float.NaN);
        foreach (var t in done.OrderBy(t => t.FinishedAt))
        {
            if (t.Accuracy > best)
            {
                var p = (x: X(t.FinishedAt.TotalSeconds), y: Y(t.Accuracy));
                if (!float.IsNaN(prev.y)) { canvas.DrawLine(prev.x, prev.y, p.x, prev.y, bestLine); canvas.DrawLine(p.x, prev.y, p.x, p.y, bestLine); }
                prev = p; best = t.Accuracy;
            }
        }
        if (!float.IsNaN(prev.y)) canvas.DrawLine(prev.x, prev.y, X(tMax), prev.y, bestLine);
        foreach (var t in done)
        {
            using var dot = new SKPaint { Color = Colors[t.Settings.Family], IsAntialias = true };
            // Bigger dots for more epochs: the cost-aware tuner's short trials show as small dots.
            canvas.DrawCircle(X(t.FinishedAt.TotalSeconds), Y(Math.Max(yMin, t.Accuracy)), 3 + Math.Min(6, t.EpochsTrained / 4f), dot);
        }
        int ly = top;
        foreach (var (family, color) in Colors)
        {
            using var dot = new SKPaint { Color = color, IsAntialias = true };
            canvas.DrawCircle(width - right + 25, ly + 5, 6, dot);
            text.Draw(canvas, $"{family.Name()} ({done.Count(t => t.Settings.Family == family)})", width - right + 38, ly + 10);
            ly += 26;
        }
        canvas.DrawLine(width - right + 18, ly + 5, width - right + 32, ly + 5, bestLine);
        text.Draw(canvas, "best so far", width - right + 38, ly + 10);
        LeaderboardChart.SavePng(surface, path);
    }
}
