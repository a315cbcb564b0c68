namespace ModelInService.Sketches;

/// <summary>
/// Sizing arithmetic of the KLL sketch, identical to Apache DataSketches (Java <c>KllHelper</c>, C++ <c>kll_helper</c>)
/// so that level layouts, and therefore the serialized bytes, agree with theirs.
/// </summary>
internal static class KllHelper
{
    /// <summary>The default k: about 1.33% single-sided rank error at 99% confidence.</summary>
    internal const int DefaultK = 200;

    /// <summary>The default (and largest) minimum level width m.</summary>
    internal const int DefaultM = 8;

    /// <summary>The smallest k DataSketches accepts (equal to the default m).</summary>
    internal const int MinK = DefaultM;

    /// <summary>The largest k: the format stores k as an unsigned 16-bit integer.</summary>
    internal const int MaxK = ushort.MaxValue;

    /// <summary>The smallest m the format allows.</summary>
    internal const int MinM = 2;

    /// <summary>The largest m the format allows.</summary>
    internal const int MaxM = 8;

    /// <summary>
    /// Most levels a sketch can have: capacities are defined for a depth of at most 60 (C++ <c>int_cap_aux</c>),
    /// and 61 levels already give a top-level weight of 2^60.
    /// </summary>
    internal const int MaxLevels = 61;

    // 3^0 .. 3^30; 3^30 < 2^48, so (2k << depth) / 3^depth never overflows 64 bits for k < 2^16 and depth <= 30.
    private static readonly long[] PowersOfThree = BuildPowersOfThree();

    private static long[] BuildPowersOfThree()
    {
        var result = new long[31];
        result[0] = 1;
        for (var i = 1; i < result.Length; i++)
        {
            result[i] = result[i - 1] * 3;
        }

        return result;
    }

    /// <summary>Capacity of the level at <paramref name="height"/> in a sketch with <paramref name="numLevels"/> levels:
    /// max(m, round(k * (2/3)^depth)) where depth = numLevels - height - 1.</summary>
    internal static int LevelCapacity(int k, int numLevels, int height, int m)
    {
        System.Diagnostics.Debug.Assert(height < numLevels, "height < numLevels");
        var depth = numLevels - height - 1;
        return Math.Max(m, IntCapAux(k, depth));
    }

    /// <summary>Total capacity (sum of level capacities) of a sketch with the given shape.</summary>
    internal static int ComputeTotalCapacity(int k, int m, int numLevels)
    {
        var total = 0;
        for (var h = 0; h < numLevels; h++)
        {
            total += LevelCapacity(k, numLevels, h, m);
        }

        return total;
    }

    private static int IntCapAux(int k, int depth)
    {
        if (depth <= 30)
        {
            return IntCapAuxAux(k, depth);
        }

        var half = depth / 2;
        var rest = depth - half;
        var tmp = IntCapAuxAux(k, half);
        return IntCapAuxAux(tmp, rest);
    }

    private static int IntCapAuxAux(int k, int depth)
    {
        // Pre-multiply by 2, then add 1 and halve: integer rounding of k * 2^depth / 3^depth.
        var twoK = (long)k << 1;
        var tmp = (twoK << depth) / PowersOfThree[depth];
        return (int)((tmp + 1) >> 1);
    }

    /// <summary>An upper bound on the number of levels for n items: 1 + floor(log2(n)), and 1 for n = 0.</summary>
    internal static int UpperBoundOnNumLevels(long n) => n <= 0 ? 1 : 1 + (63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)n));

    /// <summary>
    /// Normalized rank error at 99% confidence for a given k, from DataSketches' empirical fit
    /// (<c>KllHelper.getNormalizedRankError</c>): 2.296 / k^0.9723 single-sided, 2.446 / k^0.9433 for PMF (double-sided).
    /// </summary>
    internal static double NormalizedRankError(int k, bool pmf) =>
        pmf ? 2.446 / Math.Pow(k, 0.9433) : 2.296 / Math.Pow(k, 0.9723);
}
