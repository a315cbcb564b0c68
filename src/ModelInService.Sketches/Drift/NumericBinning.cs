namespace ModelInService.Sketches;

/// <summary>How numeric bins are formed when <see cref="DriftOptions.BinEdges"/> is not given.</summary>
public enum NumericBinning
{
    /// <summary>
    /// Edges at the reference quantiles of ranks 1/B, 2/B, ..., (B-1)/B (inclusive search), duplicates removed:
    /// each bin holds about 1/B of the reference. The default.
    /// </summary>
    ReferenceQuantiles = 0,

    /// <summary>B equal-width bins between the reference minimum and maximum (edges min + i·(max - min)/B).</summary>
    EqualWidth = 1,
}
