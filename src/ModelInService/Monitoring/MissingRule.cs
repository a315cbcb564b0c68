namespace ModelInService.Monitoring;

/// <summary>
/// The <c>missing</c> data-quality rule's statistic: a one-sided binomial bound on a window's missing share. The
/// allowance shrinks as the window grows, so a stable stream rarely fails (at most 1 − confidence of windows) and a
/// real jump is flagged as soon as the window is large enough to show it.
/// </summary>
internal static class MissingRule
{
    /// <summary>Evaluates the rule for one window.</summary>
    /// <param name="missing">Missing or non-finite values in the window.</param>
    /// <param name="count">All values in the window (&gt; 0).</param>
    /// <param name="allowed">The allowed missing share (the reference's own share, or 1 − NotMissingMostly).</param>
    /// <param name="referenceCount">The reference's sample size when <paramref name="allowed"/> was estimated from it, else 0 (a configured share is exact).</param>
    /// <param name="confidence">The rule's one-sided confidence.</param>
    /// <param name="exitRatio">Hysteresis: a failing rule holds again when the statistic falls below this fraction of the critical value.</param>
    /// <param name="wasFailing">Whether the rule failed at the previous evaluation.</param>
    /// <param name="failing">Whether the rule fails now.</param>
    /// <param name="limit">The missing share the window was held to: the entry bound, or the exit bound when <paramref name="wasFailing"/>.</param>
    /// <returns>The entry bound (the largest missing share that passes a rule that holds).</returns>
    public static double Evaluate(long missing, long count, double allowed, long referenceCount, double confidence, double exitRatio, bool wasFailing, out bool failing, out double limit)
    {
        var share = (double)missing / count;
        var variance = allowed * (1 - allowed) * ((1.0 / count) + (referenceCount > 0 ? 1.0 / referenceCount : 0));
        var se = Math.Sqrt(variance);
        var z = NormalQuantile(confidence);

        // Continuity correction of half a count: the binomial is discrete.
        var center = allowed + (0.5 / count);
        var enter = Math.Min(1, center + (z * se));
        var exit = Math.Min(1, center + (z * exitRatio * se));
        limit = wasFailing ? exit : enter;
        failing = share > limit;
        return enter;
    }

    /// <summary>The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9).</summary>
    public static double NormalQuantile(double p)
    {
        if (p <= 0)
        {
            return double.NegativeInfinity;
        }

        if (p >= 1)
        {
            return double.PositiveInfinity;
        }

        ReadOnlySpan<double> a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        ReadOnlySpan<double> b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        ReadOnlySpan<double> c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        ReadOnlySpan<double> d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            return Tail(Math.Sqrt(-2 * Math.Log(p)), c, d);
        }

        if (p > 1 - low)
        {
            return -Tail(Math.Sqrt(-2 * Math.Log(1 - p)), c, d);
        }

        var r = p - 0.5;
        var s = r * r;
        return Horner(a, s) * r / ((Horner(b, s) * s) + 1);

        static double Tail(double q, ReadOnlySpan<double> c, ReadOnlySpan<double> d) => Horner(c, q) / ((Horner(d, q) * q) + 1);

        static double Horner(ReadOnlySpan<double> coefficients, double x)
        {
            var value = 0.0;
            foreach (var coefficient in coefficients)
            {
                value = (value * x) + coefficient;
            }

            return value;
        }
    }
}
