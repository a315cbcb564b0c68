namespace ModelInService.Sketches;

/// <summary>
/// Options of the drift distances. Validated when a comparison runs; an instance can be shared by comparisons that
/// do not modify it.
/// </summary>
/// <remarks>Thread safety: safe to share for reading; do not modify while comparisons use it.</remarks>
public sealed class DriftOptions
{
    /// <summary>The default bin count.</summary>
    public const int DefaultBinCount = 10;

    /// <summary>The default floor for empty bins.</summary>
    public const double DefaultEmptyBinFloor = 1e-4;

    /// <summary>
    /// Number of bins B for the binned numeric distances (L1, L-infinity, PSI, KL, Jensen-Shannon, Hellinger),
    /// between 2 and 10,000. Fewer bins result when reference quantiles coincide (discrete data); the edges used
    /// are reported in <see cref="NumericDrift.BinEdges"/>.
    /// </summary>
    /// <value>Default 10.</value>
    public int BinCount { get; set; } = DefaultBinCount;

    /// <summary>How bins are formed from the reference when <see cref="BinEdges"/> is null.</summary>
    /// <value>Default <see cref="NumericBinning.ReferenceQuantiles"/>.</value>
    public NumericBinning Binning { get; set; } = NumericBinning.ReferenceQuantiles;

    /// <summary>
    /// Explicit, strictly increasing, finite bin edges e1 &lt; ... &lt; eB-1 defining the bins (-inf, e1], (e1, e2],
    /// ..., (eB-1, +inf). Overrides <see cref="BinCount"/> and <see cref="Binning"/>; use it to freeze the bins of a
    /// reference (for instance the <see cref="NumericDrift.BinEdges"/> of an earlier comparison).
    /// </summary>
    /// <value>Default null (bins derived from the reference).</value>
    public IReadOnlyList<double>? BinEdges { get; set; }

    /// <summary>
    /// Floor applied to every bin or category fraction before PSI and KL are computed (both are infinite when a
    /// fraction is 0): p is replaced by max(p, floor), without renormalizing. Between 1e-12 and 0.1.
    /// </summary>
    /// <value>Default 1e-4 (as Evidently).</value>
    public double EmptyBinFloor { get; set; } = DefaultEmptyBinFloor;

    /// <summary>
    /// Logarithm base for PSI, KL and Jensen-Shannon. With base e they are in nats (PSI's usual 0.1 / 0.25
    /// thresholds assume nats); with base 2 in bits, and the Jensen-Shannon divergence lies in [0, 1].
    /// Must be positive, finite and not 1.
    /// </summary>
    /// <value>Default e.</value>
    public double LogBase { get; set; } = Math.E;

    internal void Validate()
    {
        if (BinCount is < 2 or > 10_000)
        {
            throw new ArgumentOutOfRangeException(nameof(BinCount), BinCount, "BinCount must be between 2 and 10000.");
        }

        if (!Enum.IsDefined(Binning))
        {
            throw new ArgumentOutOfRangeException(nameof(Binning), Binning, "Unknown binning.");
        }

        if (!(EmptyBinFloor >= 1e-12 && EmptyBinFloor <= 0.1))
        {
            throw new ArgumentOutOfRangeException(nameof(EmptyBinFloor), EmptyBinFloor, "EmptyBinFloor must be between 1e-12 and 0.1.");
        }

        if (!(LogBase > 0 && double.IsFinite(LogBase) && LogBase != 1))
        {
            throw new ArgumentOutOfRangeException(nameof(LogBase), LogBase, "LogBase must be positive, finite and not 1.");
        }

        if (BinEdges is { } edges)
        {
            if (edges.Count is < 1 or > 10_000)
            {
                throw new ArgumentException("BinEdges must hold between 1 and 10000 edges.", nameof(BinEdges));
            }

            for (var i = 0; i < edges.Count; i++)
            {
                if (!double.IsFinite(edges[i]) || (i > 0 && !(edges[i - 1] < edges[i])))
                {
                    throw new ArgumentException("BinEdges must be finite and strictly increasing.", nameof(BinEdges));
                }
            }
        }
    }
}
