namespace ModelInService.ModelGenerator;

/// <summary>
/// Math that gives the same bits on every platform. <see cref="Math.Exp"/> and <see cref="Math.Pow"/> call the C
/// runtime, whose last-bit rounding differs between glibc, musl and the Windows CRT; training through them could make
/// the committed models differ by platform. Everything here uses only +, -, *, / and <see cref="Math.ScaleB"/>, which
/// IEEE 754 defines exactly (and <see cref="Math.Sqrt"/>, also correctly rounded, is safe to use directly).
/// </summary>
internal static class DeterministicMath
{
    // ln(2) split so that k * Ln2Hi is exact for |k| < 2^20 (fdlibm's constants).
    private const double Ln2Hi = 6.93147180369123816490e-01;
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double InvLn2 = 1.44269504088896338700e+00;

    /// <summary>e^x, to within a few ulps, identically on every platform.</summary>
    public static double Exp(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }

        x = Math.Clamp(x, -700.0, 700.0);

        // x = k ln2 + r with |r| <= ln2 / 2, so e^x = 2^k e^r.
        var k = Math.Round(x * InvLn2);
        var r = (x - (k * Ln2Hi)) - (k * Ln2Lo);

        // Taylor series of e^r; 18 terms are far below double precision for |r| <= 0.35.
        var term = 1.0;
        var sum = 1.0;
        for (var n = 1; n <= 18; n++)
        {
            term = term * r / n;
            sum += term;
        }

        return Math.ScaleB(sum, (int)k);
    }
}

/// <summary>SplitMix64: a tiny, fully specified random generator (System.Random's seeded sequence is not a contract).</summary>
internal sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A double uniform in [0, 1) built from the top 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A double uniform in [-limit, limit).</summary>
    public double NextUniform(double limit) => ((2.0 * NextDouble()) - 1.0) * limit;
}
