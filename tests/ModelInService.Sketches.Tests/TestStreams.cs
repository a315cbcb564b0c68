namespace ModelInService.Sketches.Tests;

/// <summary>Deterministic test streams and exact reference computations.</summary>
internal static class TestStreams
{
    public const int KindCount = 8;

    /// <summary>A stream of one of several shapes: uniform, normal, heavy-tailed, discrete, sorted, reversed,
    /// constant, bimodal.</summary>
    public static double[] Make(int kind, int length, Random random)
    {
        var data = new double[length];
        for (var i = 0; i < length; i++)
        {
            data[i] = (kind % KindCount) switch
            {
                0 => random.NextDouble() * 1000,
                1 => Normal(random) * 5 + 100,
                2 => Math.Exp(Normal(random) * 2),
                3 => random.Next(12),
                4 => i,
                5 => length - i,
                6 => 42,
                _ => random.Next(2) == 0 ? Normal(random) : Normal(random) + 10,
            };
        }

        return data;
    }

    public static double Normal(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>The largest |sketch rank - true rank| (inclusive) over every distinct value of the data.</summary>
    public static double MaxRankError(KllSketch<double> sketch, double[] data)
    {
        var sorted = (double[])data.Clone();
        Array.Sort(sorted);
        var view = sketch.GetSortedView();
        double max = 0;
        var n = (double)sorted.Length;
        for (var i = 0; i < sorted.Length; i++)
        {
            if (i + 1 < sorted.Length && sorted[i + 1] == sorted[i])
            {
                continue; // evaluate each distinct value once, at its last occurrence
            }

            var trueRank = (i + 1) / n;
            var estimate = view.GetRank(sorted[i], QuantileSearchCriteria.Inclusive);
            max = Math.Max(max, Math.Abs(estimate - trueRank));
        }

        return max;
    }

    /// <summary>Fraction of sorted data that is &lt;= x.</summary>
    public static double Cdf(double[] sorted, double x)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] <= x)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return (double)lo / sorted.Length;
    }

    public static double ExactKs(double[] a, double[] b)
    {
        var sa = Sorted(a);
        var sb = Sorted(b);
        double max = 0;
        foreach (var x in sa.Concat(sb))
        {
            max = Math.Max(max, Math.Abs(Cdf(sa, x) - Cdf(sb, x)));
        }

        return max;
    }

    public static double ExactWasserstein1(double[] a, double[] b)
    {
        var sa = Sorted(a);
        var sb = Sorted(b);
        var points = sa.Concat(sb).Distinct().OrderBy(x => x).ToArray();
        double w = 0;
        for (var i = 0; i + 1 < points.Length; i++)
        {
            w += Math.Abs(Cdf(sa, points[i]) - Cdf(sb, points[i])) * (points[i + 1] - points[i]);
        }

        return w;
    }

    public static double[] ExactBinFractions(double[] data, IReadOnlyList<double> edges)
    {
        var sorted = Sorted(data);
        var fractions = new double[edges.Count + 1];
        double previous = 0;
        for (var i = 0; i < edges.Count; i++)
        {
            var c = Cdf(sorted, edges[i]);
            fractions[i] = c - previous;
            previous = c;
        }

        fractions[^1] = 1 - previous;
        return fractions;
    }

    public static double[] Sorted(double[] data)
    {
        var copy = (double[])data.Clone();
        Array.Sort(copy);
        return copy;
    }

    public static KllDoublesSketch Sketch(IEnumerable<double> data, int k = 200, int seed = 1)
    {
        var sketch = new KllDoublesSketch(k, new Random(seed));
        foreach (var x in data)
        {
            sketch.Update(x);
        }

        return sketch;
    }
}
