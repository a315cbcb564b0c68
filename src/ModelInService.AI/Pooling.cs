using System.Numerics;
using System.Runtime.InteropServices;

namespace ModelInService.AI;

/// <summary>Reduces a text's token vectors to one embedding. Allocation-free apart from the result.</summary>
internal static class Pooling
{
    /// <summary>Pools the first <paramref name="length"/> token vectors of <paramref name="hidden"/> into <paramref name="destination"/>.</summary>
    /// <param name="hidden">The last hidden state of one row, <c>[sequence, dimension]</c>.</param>
    /// <param name="length">The real tokens (attention mask 1); the rest is padding.</param>
    /// <param name="pooling">Mean over the real tokens, or the first token.</param>
    /// <param name="destination">Receives the pooled vector; its length is the dimension.</param>
    public static void Pool(float[,] hidden, int length, EmbeddingPooling pooling, Span<float> destination)
    {
        var dimension = hidden.GetLength(1);
        var all = MemoryMarshal.CreateReadOnlySpan(ref hidden[0, 0], hidden.Length);
        if (pooling == EmbeddingPooling.Cls)
        {
            all[..dimension].CopyTo(destination);
            return;
        }

        destination.Clear();
        for (var t = 0; t < length; t++)
        {
            Add(destination, all.Slice(t * dimension, dimension));
        }

        // sentence-transformers clamps the mask sum at 1e-9; the length here is at least 2 ([CLS] and [SEP]).
        Scale(destination, 1f / Math.Max(length, 1));
    }

    /// <summary>Scales <paramref name="vector"/> to unit length in place (a zero vector stays zero) and returns its length before.</summary>
    public static float Normalize(Span<float> vector, bool scale)
    {
        var sum = 0d;
        foreach (var v in vector)
        {
            sum += (double)v * v;
        }

        var norm = (float)Math.Sqrt(sum);
        if (scale)
        {
            // torch.nn.functional.normalize divides by max(norm, 1e-12).
            Scale(vector, 1f / MathF.Max(norm, 1e-12f));
        }

        return norm;
    }

    /// <summary><paramref name="sum"/> += <paramref name="row"/>, a SIMD vector at a time.</summary>
    private static void Add(Span<float> sum, ReadOnlySpan<float> row)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<float>.Count;
            for (; i <= sum.Length - width; i += width)
            {
                (new Vector<float>(sum[i..]) + new Vector<float>(row[i..])).CopyTo(sum[i..]);
            }
        }

        for (; i < sum.Length; i++)
        {
            sum[i] += row[i];
        }
    }

    /// <summary>Multiplies every element of <paramref name="vector"/> by <paramref name="factor"/>.</summary>
    private static void Scale(Span<float> vector, float factor)
    {
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] *= factor;
        }
    }
}
