using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelInService.Schema;

/// <summary>
/// Finds NaN and infinities in floating-point spans by their bit pattern (exponent all ones), a vector at a time: a
/// value is non-finite exactly when its bits without the sign are at least those of +Infinity.
/// </summary>
internal static class FiniteCheck
{
    /// <summary>Whether <typeparamref name="T"/> is a floating-point type the check applies to.</summary>
    public static bool Applies<T>() => typeof(T) == typeof(float) || typeof(T) == typeof(double) || typeof(T) == typeof(Half);

    /// <summary>The index of the first NaN or infinity in <paramref name="values"/>, or -1 (always -1 for non-floating types).</summary>
    public static int IndexOfNonFinite<T>(ReadOnlySpan<T> values)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            return Find<uint>(MemoryMarshal.Cast<T, uint>(values), 0x7FFF_FFFFu, 0x7F80_0000u);
        }

        if (typeof(T) == typeof(double))
        {
            return Find<ulong>(MemoryMarshal.Cast<T, ulong>(values), 0x7FFF_FFFF_FFFF_FFFFul, 0x7FF0_0000_0000_0000ul);
        }

        if (typeof(T) == typeof(Half))
        {
            return Find<ushort>(MemoryMarshal.Cast<T, ushort>(values), (ushort)0x7FFF, (ushort)0x7C00);
        }

        return -1;
    }

    /// <summary>The value as a double (NaN stays NaN, infinities keep their sign).</summary>
    public static double ToDouble<T>(T value)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            return Unsafe.As<T, float>(ref value);
        }

        if (typeof(T) == typeof(double))
        {
            return Unsafe.As<T, double>(ref value);
        }

        return typeof(T) == typeof(Half) ? (double)Unsafe.As<T, Half>(ref value) : 0;
    }

    private static int Find<TBits>(ReadOnlySpan<TBits> bits, TBits magnitude, TBits infinity)
        where TBits : unmanaged, IUnsignedNumber<TBits>, IBitwiseOperators<TBits, TBits, TBits>, IComparisonOperators<TBits, TBits, bool>
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && bits.Length >= Vector<TBits>.Count)
        {
            var mask = new Vector<TBits>(magnitude);
            var limit = new Vector<TBits>(infinity);
            var vectors = MemoryMarshal.Cast<TBits, Vector<TBits>>(bits);
            for (var v = 0; v < vectors.Length; v++)
            {
                if (Vector.GreaterThanOrEqualAny(vectors[v] & mask, limit))
                {
                    break; // found in this vector: the loop below gives the exact index
                }

                i += Vector<TBits>.Count;
            }
        }

        for (; i < bits.Length; i++)
        {
            if ((bits[i] & magnitude) >= infinity)
            {
                return i;
            }
        }

        return -1;
    }
}
