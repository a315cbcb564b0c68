using SkiaSharp;

namespace Ocr;

/// <summary>
/// Renders lines of text into a PNG with SkiaSharp and a system font (DejaVu Sans from the <c>fonts-dejavu-core</c>
/// package): the benchmark's input and the tests' known text.
/// </summary>
internal static class TextImage
{
    /// <summary>Where fonts-dejavu-core installs its sans font.</summary>
    public const string FontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    /// <summary>Gets whether the font is installed.</summary>
    public static bool FontAvailable => File.Exists(FontPath);

    /// <summary>Black text on white, one line per entry, each at (left, top) in pixels; <c>UpsideDown</c> turns that line by 180° about its centre.</summary>
    public static byte[] Render(int width, int height, float fontSize, params (string Text, int Left, int Top, bool UpsideDown)[] lines)
    {
        using var typeface = SKTypeface.FromFile(FontPath) ?? throw new InvalidOperationException($"The font {FontPath} could not be loaded (install fonts-dejavu-core).");
        using var font = new SKFont(typeface, fontSize);
        using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        foreach (var (text, left, top, upsideDown) in lines)
        {
            var textWidth = font.MeasureText(text);
            var baseline = top + fontSize;
            canvas.Save();
            if (upsideDown)
            {
                canvas.RotateDegrees(180, left + (textWidth / 2), top + (fontSize * 0.6f));
            }

            canvas.DrawText(text, left, baseline, SKTextAlign.Left, font, paint);
            canvas.Restore();
        }

        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
