using MLNetFusion.Cli.Leaderboard;
using MLNetFusion.Trainers.Evaluation;
using SkiaSharp;

namespace MLNetFusion.Cli.Evaluation;

/// <summary>Draws a modality report: accuracy per modality subset as bars (left) and the reliability diagram (right).</summary>
public static class ModalityReportChart
{
    /// <summary>Writes the chart to <paramref name="path"/>.</summary>
    public static void Write(string path, string title, ModalityReport report)
    {
        const int width = 1200, height = 560, top = 70, bottom = 70;
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var text = new ChartText(14);
        using var small = new ChartText(12);
        using var titlePaint = new ChartText(20, bold: true);
        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1 };
        using var bar = new SKPaint { Color = new SKColor(52, 101, 164) };
        using var gap = new SKPaint { Color = new SKColor(204, 0, 0), StrokeWidth = 2, IsAntialias = true };
        using var diagonal = new SKPaint { Color = new SKColor(150, 150, 150), StrokeWidth = 1, IsAntialias = true, PathEffect = SKPathEffect.CreateDash(new[] { 6f, 4f }, 0) };
        titlePaint.Draw(canvas, title, 20, 32);

        // Left panel: horizontal bars, one per subset, labels measured so none is cut.
        var subsets = report.Subsets;
        float labelWidth = subsets.Max(s => text.Measure(string.Join(" + ", s.Modalities))) + 20;
        float left = 20 + labelWidth, right = 620, plot = right - left - 60;
        float row = Math.Min(40, (height - top - bottom) / (float)Math.Max(1, subsets.Count));
        text.Draw(canvas, "accuracy by modalities present", left, top - 12);
        for (int t = 0; t <= 4; t++)
        {
            float x = left + plot * t / 4f;
            canvas.DrawLine(x, top, x, top + row * subsets.Count, grid);
            small.Draw(canvas, $"{t * 25}%", x - 12, top + row * subsets.Count + 18);
        }
        for (int i = 0; i < subsets.Count; i++)
        {
            var s = subsets[i];
            float y = top + i * row;
            string label = string.Join(" + ", s.Modalities);
            text.Draw(canvas, label, left - 10 - text.Measure(label), y + row * 0.6f);
            double acc = s.Metrics?.Accuracy ?? double.NaN;
            if (double.IsFinite(acc))
            {
                canvas.DrawRect(left, y + row * 0.2f, plot * (float)acc, row * 0.6f, bar);
                small.Draw(canvas, $"{acc:P1}", left + plot * (float)acc + 6, y + row * 0.6f);
            }
            else small.Draw(canvas, "cannot predict", left + 6, y + row * 0.6f);
        }

        // Right panel: reliability diagram.
        float px = 720, py = top, size = height - top - bottom;
        text.Draw(canvas, $"reliability (ECE {report.Calibration.ExpectedCalibrationError:F3})", px, top - 12);
        for (int t = 0; t <= 4; t++)
        {
            float v = t / 4f;
            canvas.DrawLine(px + size * v, py, px + size * v, py + size, grid);
            canvas.DrawLine(px, py + size * (1 - v), px + size, py + size * (1 - v), grid);
            small.Draw(canvas, $"{v:F2}", px + size * v - 12, py + size + 18);
            small.Draw(canvas, $"{v:F2}", px - 36, py + size * (1 - v) + 4);
        }
        canvas.DrawLine(px, py + size, px + size, py, diagonal);
        int rows = Math.Max(1, report.Calibration.Bins.Sum(b => b.Count));
        using var faint = new SKPaint { Color = bar.Color.WithAlpha(90) };
        foreach (var b in report.Calibration.Bins.Where(b => b.Count > 0))
        {
            float x0 = px + size * (float)b.Lower, w = size * (float)(b.Upper - b.Lower);
            float h = size * (float)b.Accuracy;
            // A bin of a few rows says little: it is drawn faint, and every bin carries its row count.
            canvas.DrawRect(x0 + 1, py + size - h, w - 2, h, b.Count < Math.Max(10, rows / 100) ? faint : bar);
            small.Draw(canvas, $"{b.Count}", x0 + 2, py + size - h - 4);
            float yc = py + size * (1 - (float)b.MeanConfidence);
            canvas.DrawLine(x0 + 1, yc, x0 + w - 1, yc, gap);
        }
        text.Draw(canvas, "confidence", px + size / 2 - 30, py + size + 40);
        small.Draw(canvas, "accuracy (bars, rows above; faint: under 10 rows); mean confidence (red)", px, py + size + 58);
        LeaderboardChart.SavePng(surface, path);
    }
}
