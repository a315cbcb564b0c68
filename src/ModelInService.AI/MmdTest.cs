namespace ModelInService.AI;

/// <summary>
/// The two-sample maximum mean discrepancy test of alibi-detect's <c>MMDDrift</c>: an RBF kernel whose bandwidth is
/// set by the median heuristic over the pooled sample, the unbiased MMD² estimate, and a permutation test for its
/// p-value. Not thread-safe (the caller's lock guards it).
/// </summary>
internal static class MmdTest
{
    /// <summary>Tests whether <paramref name="x"/> and <paramref name="y"/> (rows of equal length) come from one distribution.</summary>
    /// <returns>The observed MMD² and the permutation p-value, (1 + #{permuted ≥ observed}) / (1 + permutations).</returns>
    public static (double Mmd2, double PValue) Run(IReadOnlyList<float[]> x, IReadOnlyList<float[]> y, int permutations, Random random)
    {
        var n = x.Count + y.Count;
        var points = new float[n][];
        for (var i = 0; i < x.Count; i++)
        {
            points[i] = x[i];
        }

        for (var i = 0; i < y.Count; i++)
        {
            points[x.Count + i] = y[i];
        }

        // Squared distances, then the median heuristic: sigma² = median(d²) / 2, k = exp(-d² / (2 sigma²)).
        var distances = new double[n * n];
        var upper = new double[n * (n - 1) / 2];
        var u = 0;
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                var d = SquaredDistance(points[i], points[j]);
                distances[(i * n) + j] = d;
                distances[(j * n) + i] = d;
                upper[u++] = d;
            }
        }

        Array.Sort(upper);
        var median = upper.Length == 0 ? 1 : upper[upper.Length / 2];
        var gamma = median > 0 ? 1 / median : 1;
        var kernel = distances;
        for (var i = 0; i < kernel.Length; i++)
        {
            kernel[i] = Math.Exp(-gamma * kernel[i]);
        }

        var labels = new int[n];
        for (var i = 0; i < n; i++)
        {
            labels[i] = i < x.Count ? 0 : 1;
        }

        var observed = Mmd2(kernel, n, labels, x.Count, y.Count);
        var atLeast = 0;
        for (var p = 0; p < permutations; p++)
        {
            random.Shuffle(labels);
            if (Mmd2(kernel, n, labels, x.Count, y.Count) >= observed)
            {
                atLeast++;
            }
        }

        return (observed, (1.0 + atLeast) / (1.0 + permutations));
    }

    /// <summary>The unbiased MMD² of the split given by <paramref name="labels"/> (0: first sample, 1: second).</summary>
    private static double Mmd2(double[] kernel, int n, int[] labels, int m, int k)
    {
        double xx = 0, yy = 0, xy = 0;
        for (var i = 0; i < n; i++)
        {
            var row = i * n;
            var li = labels[i];
            for (var j = i + 1; j < n; j++)
            {
                var value = kernel[row + j];
                var lj = labels[j];
                if (li != lj)
                {
                    xy += value;
                }
                else if (li == 0)
                {
                    xx += value;
                }
                else
                {
                    yy += value;
                }
            }
        }

        // Off-diagonal pairs counted once above: the means over ordered pairs are 2·sum / (m(m-1)).
        return (2 * xx / (m * (m - 1.0))) + (2 * yy / (k * (k - 1.0))) - (2 * xy / (m * (double)k));
    }

    private static double SquaredDistance(float[] a, float[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var d = (double)a[i] - b[i];
            sum += d * d;
        }

        return sum;
    }
}
