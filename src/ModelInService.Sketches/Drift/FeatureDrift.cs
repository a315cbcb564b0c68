namespace ModelInService.Sketches;

/// <summary>
/// Distances between a reference and a measurement summary of one feature. Every distance is a
/// <see cref="DistanceEstimate"/> whose bounds contain the exact value (see docs/drift.md). All distances are NaN
/// when either side is empty.
/// </summary>
/// <remarks>Immutable and thread-safe.</remarks>
public abstract class FeatureDrift
{
    private protected FeatureDrift(long referenceCount, long measurementCount, double logBase, double emptyBinFloor)
    {
        ReferenceCount = referenceCount;
        MeasurementCount = measurementCount;
        LogBase = logBase;
        EmptyBinFloor = emptyBinFloor;
    }

    /// <summary>The kind of feature compared.</summary>
    public abstract FeatureKind Kind { get; }

    /// <summary>Number of values summarized by the reference (finite values, or non-null categories).</summary>
    public long ReferenceCount { get; }

    /// <summary>Number of values summarized by the measurement.</summary>
    public long MeasurementCount { get; }

    /// <summary>Whether both sides hold data (otherwise every distance is NaN).</summary>
    public bool IsDefined => ReferenceCount > 0 && MeasurementCount > 0;

    /// <summary>The logarithm base of PSI, KL and Jensen-Shannon.</summary>
    public double LogBase { get; }

    /// <summary>The floor applied to fractions before PSI and KL.</summary>
    public double EmptyBinFloor { get; }

    /// <summary>Reference fraction per bin or category (same order as <see cref="MeasurementFractions"/>).</summary>
    public required IReadOnlyList<double> ReferenceFractions { get; init; }

    /// <summary>Measurement fraction per bin or category.</summary>
    public required IReadOnlyList<double> MeasurementFractions { get; init; }

    /// <summary>L-infinity: the largest absolute difference of a bin or category fraction, in [0, 1].</summary>
    public required DistanceEstimate LInfinity { get; init; }

    /// <summary>Population stability index: sum (q - p) log(q / p) over floored fractions; 0 for identical bins.</summary>
    public required DistanceEstimate PopulationStabilityIndex { get; init; }

    /// <summary>Jensen-Shannon divergence in <see cref="LogBase"/>: in [0, log_base 2] (so [0, 1] in bits).</summary>
    public required DistanceEstimate JensenShannonDivergence { get; init; }

    /// <summary>Jensen-Shannon distance: the square root of the divergence (a metric).</summary>
    public required DistanceEstimate JensenShannonDistance { get; init; }
}

/// <summary>
/// Distances between two numeric distributions summarized by KLL sketches: Kolmogorov-Smirnov and Wasserstein-1 on
/// the sketches' CDFs, and binned distances (L1, L-infinity, PSI, KL, Jensen-Shannon, Hellinger) over bins taken
/// from the reference.
/// </summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class NumericDrift : FeatureDrift
{
    internal NumericDrift(long referenceCount, long measurementCount, double logBase, double emptyBinFloor)
        : base(referenceCount, measurementCount, logBase, emptyBinFloor)
    {
    }

    /// <inheritdoc />
    public override FeatureKind Kind => FeatureKind.Numeric;

    /// <summary>Bin edges e1 &lt; ... &lt; eB-1 of the bins (-inf, e1], (e1, e2], ..., (eB-1, +inf).</summary>
    public required IReadOnlyList<double> BinEdges { get; init; }

    /// <summary>The reference sketch's single-sided rank error (0 when it is exact).</summary>
    public required double ReferenceRankError { get; init; }

    /// <summary>The measurement sketch's single-sided rank error (0 when it is exact).</summary>
    public required double MeasurementRankError { get; init; }

    /// <summary>
    /// Two-sample Kolmogorov-Smirnov statistic sup |F1(x) - F2(x)| in [0, 1], with bounds
    /// ± (ReferenceRankError + MeasurementRankError). A distance, not a p-value.
    /// </summary>
    public required DistanceEstimate KolmogorovSmirnov { get; init; }

    /// <summary>L1 ("D1") distance over the bins: sum |p - q|, in [0, 2]; half of it is the total variation.</summary>
    public required DistanceEstimate L1 { get; init; }

    /// <summary>Kullback-Leibler divergence KL(reference || measurement) = sum p log(p / q) over floored bins.</summary>
    public required DistanceEstimate KullbackLeibler { get; init; }

    /// <summary>Hellinger distance over the bins, sqrt(sum (sqrt p - sqrt q)^2 / 2), in [0, 1].</summary>
    public required DistanceEstimate Hellinger { get; init; }

    /// <summary>
    /// Wasserstein-1 (earth mover's) distance, the integral of |F1(x) - F2(x)|, in the feature's units, with bounds
    /// ± (rank errors) x (max - min of both).
    /// </summary>
    public required DistanceEstimate Wasserstein1 { get; init; }

    /// <summary>
    /// Wasserstein-1 divided by the reference standard deviation (Evidently's default drift measure, threshold
    /// 0.1). +infinity when the reference is constant and the distance is positive.
    /// </summary>
    public required DistanceEstimate NormalizedWasserstein1 { get; init; }

    /// <summary>The reference standard deviation used for <see cref="NormalizedWasserstein1"/>.</summary>
    public required double ReferenceStandardDeviation { get; init; }
}

/// <summary>
/// Distances between two categorical distributions: chi-square homogeneity (with Cramér's V), L-infinity,
/// Jensen-Shannon and PSI over the union of both sides' categories, plus the categories the reference never saw.
/// </summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class CategoricalDrift : FeatureDrift
{
    internal CategoricalDrift(long referenceCount, long measurementCount, double logBase, double emptyBinFloor)
        : base(referenceCount, measurementCount, logBase, emptyBinFloor)
    {
    }

    /// <inheritdoc />
    public override FeatureKind Kind => FeatureKind.Categorical;

    /// <summary>
    /// The compared categories, in the order of the fractions; when <see cref="HasOtherBin"/> is true the fractions
    /// have one more, last entry for the mass not attributed to a tracked category.
    /// </summary>
    public required IReadOnlyList<Category> Categories { get; init; }

    /// <summary>Whether the last fraction is the "other" bin (only when a side is no longer exact).</summary>
    public required bool HasOtherBin { get; init; }

    /// <summary>
    /// Pearson chi-square statistic of homogeneity of the 2 x C table (reference and measurement counts over the
    /// categories with a non-zero total). Unseen categories are ordinary columns. Grows with n: prefer
    /// <see cref="CramersV"/> for thresholds.
    /// </summary>
    public required DistanceEstimate ChiSquare { get; init; }

    /// <summary>Degrees of freedom of the chi-square test: number of non-empty columns minus one.</summary>
    public required int ChiSquareDegreesOfFreedom { get; init; }

    /// <summary>P-value of the chi-square test, with bounds from the statistic's bounds (upper bound first in
    /// magnitude: a larger statistic gives a smaller p-value).</summary>
    public required DistanceEstimate ChiSquarePValue { get; init; }

    /// <summary>Cramér's V = sqrt(chi-square / (n1 + n2)), an effect size in [0, 1] that does not grow with n.</summary>
    public required DistanceEstimate CramersV { get; init; }

    /// <summary>Measurement categories that the reference does not track, most frequent first.</summary>
    public required IReadOnlyList<CategoryCount> UnseenCategories { get; init; }

    /// <summary>Fraction of the measurement in <see cref="UnseenCategories"/>.</summary>
    public required double UnseenFraction { get; init; }
}
