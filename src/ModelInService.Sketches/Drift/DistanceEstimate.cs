namespace ModelInService.Sketches;

/// <summary>
/// A distance computed from sketches, with bounds that contain the value the same distance would have if computed
/// exactly from the full data (with the same bins), at the sketches' confidence (99% each). When both inputs are
/// exact the bounds equal the value. NaN everywhere when either side is empty.
/// </summary>
/// <param name="Value">The distance computed from the sketches.</param>
/// <param name="LowerBound">Lower bound on the exact distance.</param>
/// <param name="UpperBound">Upper bound on the exact distance.</param>
/// <remarks>Immutable and thread-safe.</remarks>
public readonly record struct DistanceEstimate(double Value, double LowerBound, double UpperBound)
{
    /// <summary>The largest possible difference between <see cref="Value"/> and the exact distance.</summary>
    public double ErrorBound => Math.Max(Value - LowerBound, UpperBound - Value);

    /// <summary>Whether the value is exact (both bounds equal it).</summary>
    public bool IsExact => LowerBound == Value && UpperBound == Value;

    internal static DistanceEstimate Undefined { get; } = new(double.NaN, double.NaN, double.NaN);

    internal static DistanceEstimate Create(double value, double lower, double upper) =>
        new(value, Math.Min(lower, value), Math.Max(upper, value));

    internal DistanceEstimate Map(Func<double, double> monotoneIncreasing) =>
        new(monotoneIncreasing(Value), monotoneIncreasing(LowerBound), monotoneIncreasing(UpperBound));
}
