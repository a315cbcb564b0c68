namespace ModelInService.Sketches;

/// <summary>
/// Whether a rank counts the items equal to the query point, as in Apache DataSketches'
/// <c>QuantileSearchCriteria</c>.
/// </summary>
public enum QuantileSearchCriteria
{
    /// <summary>
    /// Rank of v is the fraction of items less than or equal to v; the quantile at rank r is the smallest item whose
    /// inclusive rank is at least r. This is the DataSketches default and the usual CDF, F(v) = P(X &lt;= v).
    /// </summary>
    Inclusive = 0,

    /// <summary>
    /// Rank of v is the fraction of items strictly less than v; the quantile at rank r is the smallest item whose
    /// inclusive rank is greater than r.
    /// </summary>
    Exclusive = 1,
}
