using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Ocr;

/// <summary>
/// Reuses the crops' [3,48,W] input arrays. The models' inputs have two free dimensions, so the library binds a
/// rectangular <c>float[,,]</c> per row (a flat rented <c>float[]</c> could only give one); crops come in a few fixed
/// widths (192 for the classifier, <see cref="OcrOptions.RecognitionWidths"/> for the recognizer), so a small stack
/// of arrays per width serves the hot path without allocating.
/// </summary>
/// <remarks>Thread-safe. At most <see cref="MaxPerWidth"/> arrays are kept per width; extra returns are dropped.</remarks>
internal sealed class CropPool
{
    /// <summary>The most arrays kept per width.</summary>
    public const int MaxPerWidth = 64;

    // Free arrays by width; the count is approximate (a bag has no bound), checked before each push.
    private readonly ConcurrentDictionary<int, ConcurrentBag<float[,,]>> free = new();

    /// <summary>A [3,48,width] array, reused when one is free (its contents are overwritten by <see cref="ImageOps.WriteCrop"/>).</summary>
    public float[,,] Rent(int width) =>
        free.TryGetValue(width, out var bag) && bag.TryTake(out var array) ? array : new float[3, ImageOps.CropHeight, width];

    /// <summary>Gives an array back once no run reads it.</summary>
    public void Return(float[,,] array)
    {
        var bag = free.GetOrAdd(array.GetLength(2), _ => []);
        if (bag.Count < MaxPerWidth)
        {
            bag.Add(array);
        }
    }

    /// <summary>The array's elements, row-major.</summary>
    public static Span<float> Span(float[,,] array) =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<byte, float>(ref MemoryMarshal.GetArrayDataReference(array)), array.Length);
}
