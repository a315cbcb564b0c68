namespace ModelInService.Sketches;

/// <summary>
/// Two discrete distributions over the same bins (reference p, measurement q), each fraction with an interval that
/// contains the exact fraction. Computes the binned distances and, by interval arithmetic, bounds on their exact
/// values.
/// </summary>
/// <remarks>
/// Every per-bin term used here, g(p, q), is jointly convex, zero on the diagonal p = q, and non-decreasing as
/// (p, q) moves away from the diagonal along either axis. Over a box [pLo, pHi] x [qLo, qHi] its maximum is
/// therefore at a corner, and its minimum is 0 when the box meets the diagonal and at a corner otherwise. Summing
/// per-bin ranges bounds the sum (ignoring that fractions sum to 1, which only makes the bounds conservative).
/// </remarks>
internal sealed class BinnedDistributions
{
    internal BinnedDistributions(double[] p, double[] pLo, double[] pHi, double[] q, double[] qLo, double[] qHi)
    {
        P = p;
        PLo = pLo;
        PHi = pHi;
        Q = q;
        QLo = qLo;
        QHi = qHi;
    }

    internal double[] P { get; }

    internal double[] PLo { get; }

    internal double[] PHi { get; }

    internal double[] Q { get; }

    internal double[] QLo { get; }

    internal double[] QHi { get; }

    internal int Count => P.Length;

    /// <summary>Builds intervals p ± delta clamped to [0, 1].</summary>
    internal static (double[] Lo, double[] Hi) Widen(double[] fractions, double delta)
    {
        var lo = new double[fractions.Length];
        var hi = new double[fractions.Length];
        for (var i = 0; i < fractions.Length; i++)
        {
            lo[i] = Math.Max(0.0, fractions[i] - delta);
            hi[i] = Math.Min(1.0, fractions[i] + delta);
        }

        return (lo, hi);
    }

    /// <summary>Sum of |p - q| (L1); half of it is the total variation distance.</summary>
    internal DistanceEstimate L1() => Sum(static (p, q) => Math.Abs(p - q), floor: 0);

    /// <summary>max |p - q| (L-infinity).</summary>
    internal DistanceEstimate LInfinity()
    {
        double value = 0, lo = 0, hi = 0;
        for (var i = 0; i < Count; i++)
        {
            value = Math.Max(value, Math.Abs(P[i] - Q[i]));
            var (termLo, termHi) = TermRange(static (p, q) => Math.Abs(p - q), i, floor: 0);
            lo = Math.Max(lo, termLo);
            hi = Math.Max(hi, termHi);
        }

        return DistanceEstimate.Create(value, lo, hi);
    }

    /// <summary>PSI = sum (q' - p') ln(q'/p') / ln(base), with p' = max(p, floor).</summary>
    internal DistanceEstimate Psi(double floor, double logBase)
    {
        var scale = 1.0 / Math.Log(logBase);
        return Sum(static (p, q) => (p - q) * Math.Log(p / q), floor).Map(v => v * scale);
    }

    /// <summary>
    /// KL(reference || measurement) = sum p' ln(p'/q') / ln(base) with floored fractions. Bounded through the
    /// decomposition sum [p ln(p/q) - p + q] + sum (p - q): the first sum has terms of the convex, diagonal-zero
    /// kind; the second is bounded using that the exact fractions sum to 1.
    /// </summary>
    internal DistanceEstimate KullbackLeibler(double floor, double logBase)
    {
        double value = 0;
        for (var i = 0; i < Count; i++)
        {
            var p = Math.Max(P[i], floor);
            var q = Math.Max(Q[i], floor);
            value += p * Math.Log(p / q);
        }

        var generalized = Sum(static (p, q) => (p * Math.Log(p / q)) - p + q, floor);

        // sum p' = 1 + sum max(0, floor - p) for the exact p, which lies in [pLo, pHi].
        double extraPLo = 0, extraPHi = 0, extraQLo = 0, extraQHi = 0;
        for (var i = 0; i < Count; i++)
        {
            extraPLo += Math.Max(0, floor - PHi[i]);
            extraPHi += Math.Max(0, floor - PLo[i]);
            extraQLo += Math.Max(0, floor - QHi[i]);
            extraQHi += Math.Max(0, floor - QLo[i]);
        }

        var lower = generalized.LowerBound + (extraPLo - extraQHi);
        var upper = generalized.UpperBound + (extraPHi - extraQLo);
        var scale = 1.0 / Math.Log(logBase);
        return DistanceEstimate.Create(value * scale, lower * scale, upper * scale);
    }

    /// <summary>Jensen-Shannon divergence sum over bins of [p ln(2p/(p+q)) + q ln(2q/(p+q))] / 2, in the given base.</summary>
    internal DistanceEstimate JensenShannonDivergence(double logBase)
    {
        var scale = 1.0 / Math.Log(logBase);
        return Sum(JensenShannonTerm, floor: 0).Map(v => v * scale);
    }

    /// <summary>Hellinger distance sqrt(sum (sqrt p - sqrt q)^2 / 2), in [0, 1].</summary>
    internal DistanceEstimate Hellinger() =>
        Sum(static (p, q) => (Math.Sqrt(p) - Math.Sqrt(q)) * (Math.Sqrt(p) - Math.Sqrt(q)), floor: 0)
            .Map(static v => Math.Sqrt(Math.Clamp(v / 2, 0, 1)));

    /// <summary>
    /// Pearson chi-square statistic of homogeneity for a 2 x C table with row totals n1 (reference) and n2
    /// (measurement): n1·n2·sum (p - q)^2 / (n1 p + n2 q).
    /// </summary>
    internal DistanceEstimate ChiSquare(double n1, double n2) =>
        Sum((p, q) => (p + q) <= 0 ? 0.0 : n1 * n2 * (p - q) * (p - q) / ((n1 * p) + (n2 * q)), floor: 0);

    private static double JensenShannonTerm(double p, double q)
    {
        var m = (p + q) / 2;
        double sum = 0;
        if (p > 0)
        {
            sum += p * Math.Log(p / m);
        }

        if (q > 0)
        {
            sum += q * Math.Log(q / m);
        }

        return Math.Max(0, sum / 2);
    }

    private DistanceEstimate Sum(Func<double, double, double> term, double floor)
    {
        double value = 0, lo = 0, hi = 0;
        for (var i = 0; i < Count; i++)
        {
            value += term(Math.Max(P[i], floor), Math.Max(Q[i], floor));
            var (termLo, termHi) = TermRange(term, i, floor);
            lo += termLo;
            hi += termHi;
        }

        return DistanceEstimate.Create(value, lo, hi);
    }

    private (double Lo, double Hi) TermRange(Func<double, double, double> term, int i, double floor)
    {
        var pl = Math.Max(PLo[i], floor);
        var ph = Math.Max(PHi[i], floor);
        var ql = Math.Max(QLo[i], floor);
        var qh = Math.Max(QHi[i], floor);
        var c1 = term(pl, ql);
        var c2 = term(pl, qh);
        var c3 = term(ph, ql);
        var c4 = term(ph, qh);
        var hi = Math.Max(Math.Max(c1, c2), Math.Max(c3, c4));
        var meetsDiagonal = pl <= qh && ql <= ph;
        var lo = meetsDiagonal ? 0.0 : Math.Min(Math.Min(c1, c2), Math.Min(c3, c4));
        return (lo, hi);
    }
}
