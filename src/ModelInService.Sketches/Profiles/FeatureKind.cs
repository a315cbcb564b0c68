namespace ModelInService.Sketches;

/// <summary>The kind of a feature profile.</summary>
public enum FeatureKind
{
    /// <summary>Numeric values: moments plus a KLL quantile sketch of the finite values.</summary>
    Numeric = 1,

    /// <summary>Categorical values (string labels or integer codes): a <see cref="CategoricalSketch"/>.</summary>
    Categorical = 2,
}
