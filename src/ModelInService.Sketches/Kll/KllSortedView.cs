using System.Numerics;

namespace ModelInService.Sketches;

/// <summary>
/// The retained items of a KLL sketch in ascending order with their cumulative weights. Ranks, quantiles, CDF and
/// PMF are answered from it; the drift distances walk two of them side by side. Immutable once built.
/// </summary>
/// <typeparam name="T">Item type.</typeparam>
internal sealed class KllSortedView<T>
    where T : unmanaged, INumber<T>
{
    internal KllSortedView(T[] items, long[] cumulativeWeights, long totalWeight)
    {
        Items = items;
        CumulativeWeights = cumulativeWeights;
        TotalWeight = totalWeight;
    }

    /// <summary>Retained items, ascending (duplicates kept).</summary>
    internal T[] Items { get; }

    /// <summary>CumulativeWeights[i] = total weight of Items[0..i], so the last entry equals <see cref="TotalWeight"/>.</summary>
    internal long[] CumulativeWeights { get; }

    /// <summary>The sketch's n.</summary>
    internal long TotalWeight { get; }

    /// <summary>Weight of the items that are &lt;= value (inclusive) or &lt; value (exclusive).</summary>
    internal long WeightBelow(T value, QuantileSearchCriteria criteria)
    {
        var items = Items;
        int lo = 0, hi = items.Length; // first index whose item is > value (inclusive) or >= value (exclusive)
        if (criteria == QuantileSearchCriteria.Inclusive)
        {
            while (lo < hi)
            {
                var mid = (int)((uint)(lo + hi) >> 1);
                if (items[mid] <= value)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
        }
        else
        {
            while (lo < hi)
            {
                var mid = (int)((uint)(lo + hi) >> 1);
                if (items[mid] < value)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
        }

        return lo == 0 ? 0 : CumulativeWeights[lo - 1];
    }

    /// <summary>Normalized rank of a value.</summary>
    internal double GetRank(T value, QuantileSearchCriteria criteria) => (double)WeightBelow(value, criteria) / TotalWeight;

    /// <summary>The retained item at a normalized rank (0 &lt;= rank &lt;= 1, already validated).</summary>
    internal T GetQuantile(double rank, QuantileSearchCriteria criteria)
    {
        var natural = rank * TotalWeight;
        // Ranks such as 0.3 * 10 land on 3.0000000000000004: snap values within floating error of an integer,
        // as DataSketches does, so that quantile(i / n) is stable.
        var rounded = Math.Round(natural);
        if (Math.Abs(natural - rounded) <= 1e-9 * Math.Max(1.0, natural))
        {
            natural = rounded;
        }

        var cum = CumulativeWeights;
        int lo = 0, hi = cum.Length; // first index whose cumulative weight is >= natural (inclusive) or > natural (exclusive)
        if (criteria == QuantileSearchCriteria.Inclusive)
        {
            while (lo < hi)
            {
                var mid = (int)((uint)(lo + hi) >> 1);
                if (cum[mid] < natural)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
        }
        else
        {
            while (lo < hi)
            {
                var mid = (int)((uint)(lo + hi) >> 1);
                if (cum[mid] <= natural)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
        }

        return Items[Math.Min(lo, Items.Length - 1)];
    }
}
