using System.Globalization;

namespace ModelInService.Sketches;

/// <summary>
/// A category value: either a string label or an integer code. A label and a code are never equal, even when the
/// label spells the code. Labels compare ordinally (case-sensitive).
/// </summary>
/// <remarks>Immutable and thread-safe. <c>default(Category)</c> is the code 0.</remarks>
public readonly struct Category : IEquatable<Category>
{
    private readonly string? _label;
    private readonly long _code;

    private Category(string? label, long code)
    {
        _label = label;
        _code = code;
    }

    /// <summary>Whether this category is an integer code (otherwise it is a string label).</summary>
    public bool IsCode => _label is null;

    /// <summary>The label, or null for a code.</summary>
    public string? Label => _label;

    /// <summary>The code, or 0 for a label.</summary>
    public long Code => _code;

    /// <summary>Creates a label category.</summary>
    /// <param name="label">The label.</param>
    /// <returns>The category.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="label"/> is null.</exception>
    public static Category FromLabel(string label)
    {
        ArgumentNullException.ThrowIfNull(label);
        return new Category(label, 0);
    }

    /// <summary>Creates an integer-code category.</summary>
    /// <param name="code">The code.</param>
    /// <returns>The category.</returns>
    public static Category FromCode(long code) => new(null, code);

    /// <summary>Equality of two categories.</summary>
    /// <param name="left">First category.</param>
    /// <param name="right">Second category.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(Category left, Category right) => left.Equals(right);

    /// <summary>Inequality of two categories.</summary>
    /// <param name="left">First category.</param>
    /// <param name="right">Second category.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(Category left, Category right) => !left.Equals(right);

    /// <inheritdoc />
    public bool Equals(Category other) => _code == other._code && string.Equals(_label, other._label, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Category other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _label is null ? _code.GetHashCode() : StringComparer.Ordinal.GetHashCode(_label);

    /// <summary>The label, or the code in invariant culture.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => _label ?? _code.ToString(CultureInfo.InvariantCulture);

    /// <summary>Deterministic order used by serialization and reports: codes (ascending) before labels (ordinal).</summary>
    internal static int CompareForOrdering(Category x, Category y)
    {
        if (x.IsCode != y.IsCode)
        {
            return x.IsCode ? -1 : 1;
        }

        return x.IsCode ? x._code.CompareTo(y._code) : string.CompareOrdinal(x._label, y._label);
    }
}

/// <summary>
/// The count of one category in a <see cref="CategoricalSketch"/>: <see cref="Count"/> never exceeds the true
/// count and <see cref="UpperBound"/> never falls below it; they are equal while the sketch is exact.
/// </summary>
/// <param name="Category">The category.</param>
/// <param name="Count">Counted occurrences: a lower bound on the true count (exact while the sketch is exact).</param>
/// <param name="UpperBound">An upper bound on the true count: <see cref="Count"/> plus the sketch's maximum error.</param>
/// <remarks>Immutable and thread-safe.</remarks>
public readonly record struct CategoryCount(Category Category, long Count, long UpperBound);
