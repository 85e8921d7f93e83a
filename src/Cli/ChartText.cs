using SkiaSharp;

namespace MLNetFusion.Cli;

/// <summary>Text of one size and weight on a chart: SkiaSharp's font (SKFont) and a black antialiased paint.</summary>
internal sealed class ChartText : IDisposable
{
    private readonly SKFont _font;
    private readonly SKPaint _paint = new() { Color = SKColors.Black, IsAntialias = true };

    /// <summary>Creates the text style.</summary>
    public ChartText(float size, bool bold = false) => _font = new SKFont(SKTypeface.Default, size) { Embolden = bold };

    /// <summary>Width of <paramref name="text"/> in pixels.</summary>
    public float Measure(string text) => _font.MeasureText(text);

    /// <summary>Draws <paramref name="text"/> with its baseline starting at (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public void Draw(SKCanvas canvas, string text, float x, float y) => canvas.DrawText(text, x, y, _font, _paint);

    /// <inheritdoc />
    public void Dispose() { _font.Dispose(); _paint.Dispose(); }
}
