using SkiaSharp;

namespace Ocr;

/// <summary>How a crop is turned before the models see it (numpy's <c>rot90</c> is counter-clockwise).</summary>
internal enum CropTurn
{
    /// <summary>As it is.</summary>
    None,

    /// <summary>90° counter-clockwise: a vertical crop (height ≥ 1.5 × width) laid on its side, as PaddleOCR does.</summary>
    Quarter,

    /// <summary>180°: the classifier said the text is upside down.</summary>
    Half,

    /// <summary>A vertical crop that is also upside down.</summary>
    ThreeQuarters,
}

/// <summary>An axis-aligned box in the source image's pixels.</summary>
/// <param name="X">Left edge.</param>
/// <param name="Y">Top edge.</param>
/// <param name="Width">Width.</param>
/// <param name="Height">Height.</param>
public readonly record struct OcrBox(int X, int Y, int Width, int Height);

/// <summary>
/// Decoding with SkiaSharp and PaddleOCR's pre-processing: the detector's resize to multiples of 32 with ImageNet
/// mean/std, and the crops' resize to 48 pixels high normalised to [-1, 1] and zero-padded on the right
/// (<c>ppocr/data/imaug/operators.py</c> DetResizeForTest and NormalizeImage, <c>tools/infer/predict_rec.py</c> and
/// <c>predict_cls.py</c> resize_norm_img). Channels are fed in BGR order, as PaddleOCR reads images with OpenCV.
/// </summary>
/// <remarks>
/// Pixels are kept premultiplied RGBA, so a transparent pixel composited over white is <c>c + 255 - a</c>: text
/// drawn on a transparent background reads like text on paper. Thread-safe (no shared state).
/// </remarks>
internal static class ImageOps
{
    /// <summary>The models' input height for crops.</summary>
    public const int CropHeight = 48;

    /// <summary>The classifier's fixed input width.</summary>
    public const int ClassifierWidth = 192;

    // ImageNet mean and std in B, G, R order (PaddleOCR applies mean [0.485, 0.456, 0.406] to channel 0, 1, 2 of a BGR image).
    private static readonly float[] DetMean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] DetStd = [0.229f, 0.224f, 0.225f];

    private static readonly SKSamplingOptions Linear = new(SKFilterMode.Linear, SKMipmapMode.None);

    /// <summary>
    /// Reads an encoded image's header (PNG, JPEG, WebP, GIF, BMP, ...) without decoding its pixels: the size is known
    /// (and checked against <paramref name="maxPixels"/>) before any memory is spent on them.
    /// </summary>
    /// <returns>The codec to decode with (dispose it), or null with the reason and whether the image was too large.</returns>
    public static EncodedImage? Open(ReadOnlySpan<byte> encoded, int maxPixels, out string? error, out bool tooLarge)
    {
        tooLarge = false;
        var data = SKData.CreateCopy(encoded);
        var codec = SKCodec.Create(data);
        if (codec is null)
        {
            data.Dispose();
            error = "The request body is not an image SkiaSharp can decode: send a PNG, JPEG, WebP, GIF or BMP file as the body or as a multipart/form-data file.";
            return null;
        }

        var size = codec.Info;
        if ((long)size.Width * size.Height > maxPixels)
        {
            codec.Dispose();
            data.Dispose();
            tooLarge = true;
            error = $"The image is {size.Width}x{size.Height} pixels; at most {maxPixels} pixels are accepted (Ocr:MaxImagePixels).";
            return null;
        }

        error = null;
        return new EncodedImage(data, codec);
    }

    /// <summary>The detector's input size: scaled so the longer side is at most <paramref name="maxSide"/>, each side rounded to a multiple of 32 (at least 32).</summary>
    public static (int Width, int Height) DetectorSize(int width, int height, int maxSide)
    {
        var ratio = Math.Max(width, height) > maxSide ? (double)maxSide / Math.Max(width, height) : 1.0;
        return (RoundTo32((int)(width * ratio)), RoundTo32((int)(height * ratio)));

        static int RoundTo32(int v) => Math.Max((int)Math.Round(v / 32.0, MidpointRounding.ToEven) * 32, 32);
    }

    /// <summary>Resizes the image to the detector's size and normalises it into a new [3,H,W] tensor (B, G, R).</summary>
    public static float[,,] DetectorTensor(SKBitmap image, int width, int height)
    {
        using var resized = image.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul), Linear)
            ?? throw new InvalidOperationException($"SkiaSharp could not resize the image to {width}x{height}.");
        var tensor = new float[3, height, width];
        var pixels = resized.GetPixelSpan();
        var rowBytes = resized.RowBytes;
        var b = Scale(0);
        var g = Scale(1);
        var r = Scale(2);
        for (var y = 0; y < height; y++)
        {
            var row = pixels.Slice(y * rowBytes, width * 4);
            for (var x = 0; x < width; x++)
            {
                var p = row.Slice(x * 4, 4);
                var white = 255 - p[3];
                tensor[0, y, x] = ((p[2] + white) * b.Scale) + b.Offset;
                tensor[1, y, x] = ((p[1] + white) * g.Scale) + g.Offset;
                tensor[2, y, x] = ((p[0] + white) * r.Scale) + r.Offset;
            }
        }

        return tensor;

        // (v / 255 - mean) / std as v * scale + offset.
        static (float Scale, float Offset) Scale(int c) => (1f / (255f * DetStd[c]), -DetMean[c] / DetStd[c]);
    }

    /// <summary>Whether a crop is laid on its side first: PaddleOCR turns crops whose height is at least 1.5 × their width.</summary>
    public static bool IsVertical(OcrBox box) => box.Height >= 1.5 * box.Width;

    /// <summary>The crop's width and height once turned (a vertical crop is read lying down).</summary>
    public static (int Width, int Height) TurnedSize(OcrBox box, bool vertical) =>
        vertical ? (box.Height, box.Width) : (box.Width, box.Height);

    /// <summary>
    /// The width a crop takes at the models' height of 48: <c>ceil(48 × width / height)</c>, at most <paramref name="maxWidth"/>.
    /// </summary>
    public static int ScaledWidth(OcrBox box, bool vertical, int maxWidth)
    {
        var (w, h) = TurnedSize(box, vertical);
        return Math.Clamp((int)Math.Ceiling(CropHeight * (double)w / h), 1, maxWidth);
    }

    /// <summary>
    /// Writes a crop of <paramref name="image"/>, turned, resized to <paramref name="scaledWidth"/> × 48, normalised
    /// to [-1, 1] (B, G, R) and zero-padded on the right to <paramref name="paddedWidth"/>, into <paramref name="destination"/>
    /// ([3,48,paddedWidth] row-major).
    /// </summary>
    public static void WriteCrop(SKBitmap image, OcrBox box, CropTurn turn, int scaledWidth, int paddedWidth, Span<float> destination)
    {
        var plane = CropHeight * paddedWidth;
        destination = destination[..(3 * plane)];
        destination.Clear();

        // The resized crop in the image's own orientation: a quarter turn swaps its sides.
        var sideways = turn is CropTurn.Quarter or CropTurn.ThreeQuarters;
        var (rw, rh) = sideways ? (CropHeight, scaledWidth) : (scaledWidth, CropHeight);
        using var subset = new SKBitmap();
        if (!image.ExtractSubset(subset, new SKRectI(box.X, box.Y, box.X + box.Width, box.Y + box.Height)))
        {
            throw new InvalidOperationException($"The box {box} is outside the {image.Width}x{image.Height} image.");
        }

        using var resized = subset.Resize(new SKImageInfo(rw, rh, SKColorType.Rgba8888, SKAlphaType.Premul), Linear)
            ?? throw new InvalidOperationException($"SkiaSharp could not resize a crop to {rw}x{rh}.");
        var pixels = resized.GetPixelSpan();
        var rowBytes = resized.RowBytes;
        const float Scale = 2f / 255f;
        for (var y = 0; y < CropHeight; y++)
        {
            for (var x = 0; x < scaledWidth; x++)
            {
                // Output (y, x) reads the resized crop at (row, col): numpy's rot90 is out[i][j] = in[j][W-1-i].
                var (row, col) = turn switch
                {
                    CropTurn.None => (y, x),
                    CropTurn.Half => (CropHeight - 1 - y, scaledWidth - 1 - x),
                    CropTurn.Quarter => (x, CropHeight - 1 - y),
                    _ => (scaledWidth - 1 - x, y),
                };
                var p = pixels.Slice((row * rowBytes) + (col * 4), 4);
                var white = 255 - p[3];
                var at = (y * paddedWidth) + x;
                destination[at] = ((p[2] + white) * Scale) - 1f;
                destination[plane + at] = ((p[1] + white) * Scale) - 1f;
                destination[(2 * plane) + at] = ((p[0] + white) * Scale) - 1f;
            }
        }
    }
}

/// <summary>An encoded image whose header was read: its size is known, its pixels are not decoded yet.</summary>
internal sealed class EncodedImage(SKData data, SKCodec codec) : IDisposable
{
    /// <summary>Gets the number of pixels (width × height).</summary>
    public long Pixels => (long)codec.Info.Width * codec.Info.Height;

    /// <summary>Decodes the pixels into premultiplied RGBA.</summary>
    /// <returns>The bitmap, or null with the reason (a truncated image decodes partially).</returns>
    public SKBitmap? Decode(out string? error)
    {
        var size = codec.Info;
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
        {
            bitmap.Dispose();
            error = $"The image could not be decoded ({result}).";
            return null;
        }

        error = null;
        return bitmap;
    }

    public void Dispose()
    {
        codec.Dispose();
        data.Dispose();
    }
}
