using System.Numerics;

namespace ModelInService.Sketches;

/// <summary>
/// Computes drift distances between a reference and a measurement summary: profiles, KLL sketches or categorical
/// sketches. Each distance comes with bounds on the value an exact computation over the full data would give (see
/// docs/drift.md for formulas, ranges and interpretation).
/// </summary>
/// <remarks>Thread safety: the methods are thread-safe for distinct inputs. They read the sketches (and may build
/// their cached sorted views), so the inputs must not be updated or queried concurrently.</remarks>
public static class DriftMetrics
{
    /// <summary>Compares two profiles of the same kind.</summary>
    /// <param name="reference">The reference profile (for example the training data or last week).</param>
    /// <param name="measurement">The profile to compare against it (for example the last hour).</param>
    /// <param name="options">Bins, PSI/KL floor and log base; defaults when null.</param>
    /// <returns>A <see cref="NumericDrift"/> or a <see cref="CategoricalDrift"/>.</returns>
    /// <exception cref="ArgumentNullException">A profile is null.</exception>
    /// <exception cref="ArgumentException">The profiles are of different kinds, or <paramref name="options"/> is
    /// invalid.</exception>
    public static FeatureDrift Compare(FeatureProfile reference, FeatureProfile measurement, DriftOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(measurement);
        if (reference.Kind != measurement.Kind)
        {
            throw new ArgumentException($"Cannot compare a {reference.Kind} reference with a {measurement.Kind} measurement.", nameof(measurement));
        }

        if (reference.Kind == FeatureKind.Numeric)
        {
            options ??= new DriftOptions();
            options.Validate();
            // The exact moments' variance overflows for values beyond about 1e154 (their squares pass double.MaxValue):
            // an infinite sigma would make the normalized Wasserstein distance 0 whatever the shift, so the sketch's
            // estimate (computed at a safe scale) is used instead.
            var sigma = reference.Moments!.StandardDeviation;
            return CompareNumericCore(reference.Quantiles!, measurement.Quantiles!, double.IsFinite(sigma) ? sigma : null, options);
        }

        return CompareCategorical(reference.Categories!, measurement.Categories!, options);
    }

    /// <summary>
    /// Compares two numeric distributions summarized by KLL sketches. The reference standard deviation used by
    /// <see cref="NumericDrift.NormalizedWasserstein1"/> is estimated from the reference sketch (profiles use their
    /// exact moments instead).
    /// </summary>
    /// <typeparam name="T">Item type of the sketches.</typeparam>
    /// <param name="reference">The reference sketch.</param>
    /// <param name="measurement">The measurement sketch.</param>
    /// <param name="options">Bins, PSI/KL floor and log base; defaults when null.</param>
    /// <returns>The distances.</returns>
    /// <exception cref="ArgumentNullException">A sketch is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> is invalid.</exception>
    public static NumericDrift CompareNumeric<T>(KllSketch<T> reference, KllSketch<T> measurement, DriftOptions? options = null)
        where T : unmanaged, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(measurement);
        options ??= new DriftOptions();
        options.Validate();
        return CompareNumericCore(reference, measurement, referenceStandardDeviation: null, options);
    }

    /// <summary>Compares two categorical distributions.</summary>
    /// <param name="reference">The reference sketch.</param>
    /// <param name="measurement">The measurement sketch.</param>
    /// <param name="options">PSI floor and log base (bins do not apply); defaults when null.</param>
    /// <returns>The distances.</returns>
    /// <exception cref="ArgumentNullException">A sketch is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> is invalid.</exception>
    public static CategoricalDrift CompareCategorical(CategoricalSketch reference, CategoricalSketch measurement, DriftOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(measurement);
        options ??= new DriftOptions();
        options.Validate();

        var floor = options.EmptyBinFloor;
        var logBase = options.LogBase;
        if (reference.IsEmpty || measurement.IsEmpty)
        {
            return new CategoricalDrift(reference.N, measurement.N, logBase, floor)
            {
                ReferenceFractions = [],
                MeasurementFractions = [],
                Categories = [],
                HasOtherBin = false,
                LInfinity = DistanceEstimate.Undefined,
                PopulationStabilityIndex = DistanceEstimate.Undefined,
                JensenShannonDivergence = DistanceEstimate.Undefined,
                JensenShannonDistance = DistanceEstimate.Undefined,
                ChiSquare = DistanceEstimate.Undefined,
                ChiSquareDegreesOfFreedom = 0,
                ChiSquarePValue = DistanceEstimate.Undefined,
                CramersV = DistanceEstimate.Undefined,
                UnseenCategories = [],
                UnseenFraction = double.NaN,
            };
        }

        // Union of the tracked categories: the reference's in its order, then the measurement's new ones.
        var referenceItems = reference.GetFrequentItems();
        var measurementItems = measurement.GetFrequentItems();
        var categories = new List<Category>(referenceItems.Count + measurementItems.Count);
        var seen = new HashSet<Category>();
        foreach (var item in referenceItems)
        {
            categories.Add(item.Category);
            seen.Add(item.Category);
        }

        var unseen = new List<CategoryCount>();
        long unseenCount = 0;
        foreach (var item in measurementItems)
        {
            if (seen.Add(item.Category))
            {
                categories.Add(item.Category);
            }

            if (!reference.Contains(item.Category))
            {
                unseen.Add(item);
                unseenCount += item.Count;
            }
        }

        var hasOther = !(reference.IsExact && measurement.IsExact);
        var binCount = categories.Count + (hasOther ? 1 : 0);
        var (p, pLo, pHi) = CategoricalFractions(reference, categories, binCount, hasOther);
        var (q, qLo, qHi) = CategoricalFractions(measurement, categories, binCount, hasOther);
        var bins = new BinnedDistributions(p, pLo, pHi, q, qLo, qHi);

        var n1 = (double)reference.N;
        var n2 = (double)measurement.N;
        var chiSquare = bins.ChiSquare(n1, n2);
        var nonEmptyColumns = 0;
        for (var i = 0; i < binCount; i++)
        {
            if (p[i] + q[i] > 0)
            {
                nonEmptyColumns++;
            }
        }

        var dof = Math.Max(0, nonEmptyColumns - 1);
        var pValue = new DistanceEstimate(
            SpecialFunctions.ChiSquareSurvival(chiSquare.Value, dof),
            SpecialFunctions.ChiSquareSurvival(chiSquare.UpperBound, dof),
            SpecialFunctions.ChiSquareSurvival(chiSquare.LowerBound, dof));
        var jsd = bins.JensenShannonDivergence(logBase);

        return new CategoricalDrift(reference.N, measurement.N, logBase, floor)
        {
            ReferenceFractions = Array.AsReadOnly(p),
            MeasurementFractions = Array.AsReadOnly(q),
            Categories = categories.AsReadOnly(),
            HasOtherBin = hasOther,
            LInfinity = bins.LInfinity(),
            PopulationStabilityIndex = bins.Psi(floor, logBase),
            JensenShannonDivergence = jsd,
            JensenShannonDistance = jsd.Map(static v => Math.Sqrt(Math.Max(0, v))),
            ChiSquare = chiSquare,
            ChiSquareDegreesOfFreedom = dof,
            ChiSquarePValue = pValue,
            CramersV = chiSquare.Map(v => Math.Min(1.0, Math.Sqrt(Math.Max(0, v) / (n1 + n2)))),
            UnseenCategories = unseen.AsReadOnly(),
            UnseenFraction = unseenCount / n2,
        };
    }

    private static (double[] Fractions, double[] Lo, double[] Hi) CategoricalFractions(
        CategoricalSketch sketch, List<Category> categories, int binCount, bool hasOther)
    {
        var n = (double)sketch.N;
        var error = sketch.MaximumError;
        var fractions = new double[binCount];
        var lo = new double[binCount];
        var hi = new double[binCount];
        double sumFractions = 0, sumHi = 0;
        for (var i = 0; i < categories.Count; i++)
        {
            var count = sketch.GetCount(categories[i]).Count;
            fractions[i] = count / n;
            lo[i] = fractions[i];
            hi[i] = Math.Min(1.0, (count + error) / n);
            sumFractions += fractions[i];
            sumHi += hi[i];
        }

        if (hasOther)
        {
            var other = Math.Max(0.0, 1.0 - sumFractions);
            fractions[^1] = other;
            hi[^1] = other;
            lo[^1] = Math.Max(0.0, 1.0 - sumHi);
        }

        return (fractions, lo, hi);
    }

    private static NumericDrift CompareNumericCore<T>(KllSketch<T> reference, KllSketch<T> measurement, double? referenceStandardDeviation, DriftOptions options)
        where T : unmanaged, INumber<T>
    {
        var floor = options.EmptyBinFloor;
        var logBase = options.LogBase;
        if (reference.IsEmpty || measurement.IsEmpty)
        {
            return new NumericDrift(reference.N, measurement.N, logBase, floor)
            {
                ReferenceFractions = [],
                MeasurementFractions = [],
                BinEdges = [],
                ReferenceRankError = reference.GetNormalizedRankError(pmf: false),
                MeasurementRankError = measurement.GetNormalizedRankError(pmf: false),
                LInfinity = DistanceEstimate.Undefined,
                PopulationStabilityIndex = DistanceEstimate.Undefined,
                JensenShannonDivergence = DistanceEstimate.Undefined,
                JensenShannonDistance = DistanceEstimate.Undefined,
                KolmogorovSmirnov = DistanceEstimate.Undefined,
                L1 = DistanceEstimate.Undefined,
                KullbackLeibler = DistanceEstimate.Undefined,
                Hellinger = DistanceEstimate.Undefined,
                Wasserstein1 = DistanceEstimate.Undefined,
                NormalizedWasserstein1 = DistanceEstimate.Undefined,
                ReferenceStandardDeviation = referenceStandardDeviation ?? double.NaN,
            };
        }

        var referenceView = reference.GetSortedView();
        var measurementView = measurement.GetSortedView();
        var ref1 = ToDoubles(referenceView.Items);
        var meas1 = ToDoubles(measurementView.Items);
        var cum1 = referenceView.CumulativeWeights;
        var cum2 = measurementView.CumulativeWeights;
        double n1 = reference.N, n2 = measurement.N;

        var edges = BinEdgesFor(reference, options);
        var p = BinFractions(ref1, cum1, n1, edges);
        var q = BinFractions(meas1, cum2, n2, edges);
        var (pLo, pHi) = BinnedDistributions.Widen(p, reference.GetNormalizedRankError(pmf: true));
        var (qLo, qHi) = BinnedDistributions.Widen(q, measurement.GetNormalizedRankError(pmf: true));
        var bins = new BinnedDistributions(p, pLo, pHi, q, qLo, qHi);

        var eps1 = reference.GetNormalizedRankError(pmf: false);
        var eps2 = measurement.GetNormalizedRankError(pmf: false);
        var (ks, w1) = WalkCdfs(ref1, cum1, n1, meas1, cum2, n2);
        var eps = eps1 + eps2;
        var low = Math.Min(double.CreateTruncating(reference.Min), double.CreateTruncating(measurement.Min));
        var high = Math.Max(double.CreateTruncating(reference.Max), double.CreateTruncating(measurement.Max));
        var w1Slack = eps * (high - low);
        var wasserstein = DistanceEstimate.Create(w1, Math.Max(0, w1 - w1Slack), w1 + w1Slack);

        var sigma = referenceStandardDeviation ?? WeightedStandardDeviation(ref1, cum1, n1);
        var jsd = bins.JensenShannonDivergence(logBase);

        return new NumericDrift(reference.N, measurement.N, logBase, floor)
        {
            ReferenceFractions = Array.AsReadOnly(p),
            MeasurementFractions = Array.AsReadOnly(q),
            BinEdges = Array.AsReadOnly(edges),
            ReferenceRankError = eps1,
            MeasurementRankError = eps2,
            KolmogorovSmirnov = DistanceEstimate.Create(ks, Math.Max(0, ks - eps), Math.Min(1, ks + eps)),
            L1 = bins.L1(),
            LInfinity = bins.LInfinity(),
            PopulationStabilityIndex = bins.Psi(floor, logBase),
            KullbackLeibler = bins.KullbackLeibler(floor, logBase),
            JensenShannonDivergence = jsd,
            JensenShannonDistance = jsd.Map(static v => Math.Sqrt(Math.Max(0, v))),
            Hellinger = bins.Hellinger(),
            Wasserstein1 = wasserstein,
            NormalizedWasserstein1 = wasserstein.Map(v => sigma > 0 ? v / sigma : (v > 0 ? double.PositiveInfinity : 0.0)),
            ReferenceStandardDeviation = sigma,
        };
    }

    private static double[] ToDoubles<T>(T[] items)
        where T : unmanaged, INumber<T>
    {
        if (items is double[] doubles)
        {
            return doubles;
        }

        var result = new double[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            result[i] = double.CreateTruncating(items[i]);
        }

        return result;
    }

    /// <summary>The bin edges: explicit, reference quantiles, or equal width over the reference range; deduplicated.</summary>
    internal static double[] BinEdgesFor<T>(KllSketch<T> reference, DriftOptions options)
        where T : unmanaged, INumber<T>
    {
        if (options.BinEdges is { } explicitEdges)
        {
            return [.. explicitEdges];
        }

        var count = options.BinCount;
        var edges = new List<double>(count - 1);
        if (options.Binning == NumericBinning.EqualWidth)
        {
            var min = double.CreateTruncating(reference.Min);
            var max = double.CreateTruncating(reference.Max);
            for (var i = 1; i < count; i++)
            {
                AddDistinct(edges, min + ((max - min) * i / count));
            }
        }
        else
        {
            for (var i = 1; i < count; i++)
            {
                AddDistinct(edges, double.CreateTruncating(reference.GetQuantile((double)i / count)));
            }
        }

        return [.. edges];

        static void AddDistinct(List<double> list, double edge)
        {
            if (list.Count == 0 || edge > list[^1])
            {
                list.Add(edge);
            }
        }
    }

    /// <summary>Fractions of (-inf, e1], (e1, e2], ..., (e_last, +inf) from a sorted view.</summary>
    private static double[] BinFractions(double[] items, long[] cumulative, double n, double[] edges)
    {
        var fractions = new double[edges.Length + 1];
        var index = 0;
        double previous = 0;
        for (var b = 0; b < edges.Length; b++)
        {
            while (index < items.Length && items[index] <= edges[b])
            {
                index++;
            }

            var below = index == 0 ? 0.0 : cumulative[index - 1] / n;
            fractions[b] = below - previous;
            previous = below;
        }

        fractions[^1] = 1.0 - previous;
        return fractions;
    }

    /// <summary>
    /// Walks two step CDFs over the union of their points: the largest |F1 - F2| (Kolmogorov-Smirnov) and the
    /// integral of |F1 - F2| (Wasserstein-1).
    /// </summary>
    private static (double Ks, double W1) WalkCdfs(double[] a, long[] cumA, double nA, double[] b, long[] cumB, double nB)
    {
        int i = 0, j = 0;
        double fa = 0, fb = 0, ks = 0, w1 = 0, previousX = 0, previousDiff = 0;
        var first = true;
        while (i < a.Length || j < b.Length)
        {
            var x = i < a.Length && (j >= b.Length || a[i] <= b[j]) ? a[i] : b[j];
            // Only where the CDFs differ: a gap between values of opposite sign near double.MaxValue overflows to
            // infinity, and 0 x infinity made W1 NaN for identical distributions (a NaN distance holds an alarm open).
            if (!first && previousDiff > 0)
            {
                w1 += previousDiff * (x - previousX);
            }

            first = false;
            while (i < a.Length && a[i] == x)
            {
                i++;
            }

            while (j < b.Length && b[j] == x)
            {
                j++;
            }

            fa = i == 0 ? 0 : cumA[i - 1] / nA;
            fb = j == 0 ? 0 : cumB[j - 1] / nB;
            var diff = Math.Abs(fa - fb);
            ks = Math.Max(ks, diff);
            previousX = x;
            previousDiff = diff;
        }

        return (ks, w1);
    }

    private static double WeightedStandardDeviation(double[] items, long[] cumulative, double n)
    {
        var sigma = WeightedStandardDeviation(items, cumulative, n, 1.0);
        if (double.IsFinite(sigma) || items.Length == 0)
        {
            return sigma;
        }

        // Squares of values beyond about 1e154 overflow: compute at the scale of the largest magnitude instead.
        double scale = 0;
        foreach (var item in items)
        {
            scale = Math.Max(scale, Math.Abs(item));
        }

        return WeightedStandardDeviation(items, cumulative, n, scale) * scale;
    }

    private static double WeightedStandardDeviation(double[] items, long[] cumulative, double n, double scale)
    {
        double mean = 0;
        long previous = 0;
        for (var i = 0; i < items.Length; i++)
        {
            mean += items[i] / scale * (cumulative[i] - previous);
            previous = cumulative[i];
        }

        mean /= n;
        double m2 = 0;
        previous = 0;
        for (var i = 0; i < items.Length; i++)
        {
            var d = (items[i] / scale) - mean;
            m2 += d * d * (cumulative[i] - previous);
            previous = cumulative[i];
        }

        return Math.Sqrt(m2 / n);
    }
}
