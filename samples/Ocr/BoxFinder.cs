using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ocr;

/// <summary>A detected text region in the source image, with the detector's mean probability inside it.</summary>
/// <param name="Box">The expanded box, in source pixels.</param>
/// <param name="Score">The mean probability of the map inside the box before expansion.</param>
internal readonly record struct DetectedBox(OcrBox Box, float Score);

/// <summary>
/// The detector's post-processing, after PaddleOCR's DBPostProcess (<c>ppocr/postprocess/db_postprocess.py</c>):
/// threshold the probability map, group text pixels into 8-connected components (where PaddleOCR takes OpenCV
/// contours), score each component's box by the map's mean inside it ("fast" score mode), drop boxes under the box
/// threshold or with a side under 3 pixels, grow ("unclip") each box by <c>area × ratio / perimeter</c> on every side,
/// and scale it to the source image.
/// </summary>
/// <remarks>
/// Boxes are axis-aligned rectangles, not minimum-area rotated rectangles: fine for horizontal text and for text
/// turned by 90° or 180°; slanted lines get a looser box (and may touch a neighbour). The unclip of a rectangle is
/// exact (PaddleOCR offsets the polygon with pyclipper, which rounds the corners and then takes the bounding
/// rectangle again). Scratch buffers are pooled; thread-safe.
/// </remarks>
internal static class BoxFinder
{
    /// <summary>PaddleOCR's <c>max_candidates</c>: components beyond this many are ignored.</summary>
    public const int MaxCandidates = 1000;

    /// <summary>PaddleOCR's <c>min_size</c>: a box's shorter side must be at least this many map pixels (and 2 more after unclip).</summary>
    public const int MinSize = 3;

    /// <summary>Finds the text boxes in a [1,H,W] probability map of an image of <paramref name="sourceWidth"/> × <paramref name="sourceHeight"/>.</summary>
    public static List<DetectedBox> Find(float[,,] map, int sourceWidth, int sourceHeight, OcrOptions options)
    {
        var height = map.GetLength(1);
        var width = map.GetLength(2);
        var probabilities = MemoryMarshal.CreateReadOnlySpan(
            ref Unsafe.As<byte, float>(ref MemoryMarshal.GetArrayDataReference(map)), height * width);
        var labels = ArrayPool<int>.Shared.Rent(height * width);
        var stack = ArrayPool<int>.Shared.Rent(height * width);
        var boxes = new List<DetectedBox>();
        try
        {
            var visited = labels.AsSpan(0, height * width);
            visited.Clear();
            var found = 0;
            for (var start = 0; start < visited.Length && found < MaxCandidates; start++)
            {
                if (visited[start] != 0 || probabilities[start] <= options.PixelThreshold)
                {
                    continue;
                }

                found++;
                var (minX, minY, maxX, maxY) = Flood(probabilities, visited, stack, width, height, start, options.PixelThreshold);
                if (Box(probabilities, width, minX, minY, maxX, maxY, sourceWidth, sourceHeight, height, options) is { } box)
                {
                    boxes.Add(box);
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(stack);
            ArrayPool<int>.Shared.Return(labels);
        }

        return boxes;
    }

    /// <summary>
    /// Orders boxes as PaddleOCR's <c>sorted_boxes</c> does: top to bottom, and left to right within 10 pixels of height.
    /// </summary>
    public static void Sort(List<DetectedBox> boxes)
    {
        boxes.Sort((a, b) => a.Box.Y != b.Box.Y ? a.Box.Y.CompareTo(b.Box.Y) : a.Box.X.CompareTo(b.Box.X));
        for (var i = 0; i < boxes.Count - 1; i++)
        {
            for (var j = i; j >= 0; j--)
            {
                if (Math.Abs(boxes[j + 1].Box.Y - boxes[j].Box.Y) < 10 && boxes[j + 1].Box.X < boxes[j].Box.X)
                {
                    (boxes[j], boxes[j + 1]) = (boxes[j + 1], boxes[j]);
                }
                else
                {
                    break;
                }
            }
        }
    }

    /// <summary>Marks the 8-connected component of text pixels holding <paramref name="start"/> and returns its bounds.</summary>
    private static (int MinX, int MinY, int MaxX, int MaxY) Flood(ReadOnlySpan<float> map, Span<int> visited, int[] stack, int width, int height, int start, float threshold)
    {
        int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
        var top = 0;
        stack[top++] = start;
        visited[start] = 1;
        while (top > 0)
        {
            var at = stack[--top];
            var x = at % width;
            var y = at / width;
            minX = Math.Min(minX, x);
            maxX = Math.Max(maxX, x);
            minY = Math.Min(minY, y);
            maxY = Math.Max(maxY, y);
            for (var dy = -1; dy <= 1; dy++)
            {
                var ny = y + dy;
                if ((uint)ny >= (uint)height)
                {
                    continue;
                }

                for (var dx = -1; dx <= 1; dx++)
                {
                    var nx = x + dx;
                    var next = (ny * width) + nx;
                    if ((uint)nx < (uint)width && visited[next] == 0 && map[next] > threshold)
                    {
                        visited[next] = 1;
                        stack[top++] = next;
                    }
                }
            }
        }

        return (minX, minY, maxX, maxY);
    }

    /// <summary>Scores, filters, unclips and scales one component's box; null when it is dropped.</summary>
    private static DetectedBox? Box(ReadOnlySpan<float> map, int width, int minX, int minY, int maxX, int maxY, int sourceWidth, int sourceHeight, int mapHeight, OcrOptions options)
    {
        float w = maxX - minX + 1;
        float h = maxY - minY + 1;
        if (Math.Min(w, h) < MinSize)
        {
            return null;
        }

        double sum = 0;
        for (var y = minY; y <= maxY; y++)
        {
            foreach (var p in map.Slice((y * width) + minX, maxX - minX + 1))
            {
                sum += p;
            }
        }

        var score = (float)(sum / (w * h));
        if (score < options.BoxThreshold)
        {
            return null;
        }

        var grow = w * h * options.UnclipRatio / (2 * (w + h));
        if (Math.Min(w, h) + (2 * grow) < MinSize + 2)
        {
            return null;
        }

        var sx = (float)sourceWidth / width;
        var sy = (float)sourceHeight / mapHeight;
        var x0 = Math.Clamp((int)MathF.Round((minX - grow) * sx), 0, sourceWidth - 1);
        var y0 = Math.Clamp((int)MathF.Round((minY - grow) * sy), 0, sourceHeight - 1);
        var x1 = Math.Clamp((int)MathF.Round((maxX + 1 + grow) * sx), x0 + 1, sourceWidth);
        var y1 = Math.Clamp((int)MathF.Round((maxY + 1 + grow) * sy), y0 + 1, sourceHeight);
        return new DetectedBox(new OcrBox(x0, y0, x1 - x0, y1 - y0), score);
    }
}
