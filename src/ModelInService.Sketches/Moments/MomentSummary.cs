using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;

namespace ModelInService.Sketches;

/// <summary>
/// Exact, mergeable moments of a numeric feature: counts of finite values, nulls, NaN and infinities, and the
/// minimum, maximum, mean and variance of the finite values. Updated with Welford's method and merged with the
/// parallel formula of Chan, Golub and LeVeque, so merging partial summaries gives the summary of the union up to
/// floating-point rounding.
/// </summary>
/// <remarks>Thread safety: not thread-safe; serialize updates and merges on one instance.</remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class MomentSummary
{
    /// <summary>Serialized size in bytes (see <see cref="WriteTo"/>).</summary>
    internal const int SerializedSize = 72;

    /// <summary>Number of finite values.</summary>
    private long _count;

    /// <summary>Number of null (missing) values.</summary>
    private long _nullCount;

    /// <summary>Number of NaN values.</summary>
    private long _nanCount;

    /// <summary>Number of +infinity values.</summary>
    private long _positiveInfinityCount;

    /// <summary>Number of -infinity values.</summary>
    private long _negativeInfinityCount;

    /// <summary>Smallest finite value (+inf when none).</summary>
    private double _min = double.PositiveInfinity;

    /// <summary>Largest finite value (-inf when none).</summary>
    private double _max = double.NegativeInfinity;

    /// <summary>Running mean of the finite values.</summary>
    private double _mean;

    /// <summary>Sum of squared deviations from the mean (Welford's M2).</summary>
    private double _m2;

    /// <summary>Number of finite values (the population of <see cref="Mean"/> and <see cref="Variance"/>).</summary>
    public long Count => _count;

    /// <summary>Number of null (missing) values.</summary>
    public long NullCount => _nullCount;

    /// <summary>Number of NaN values.</summary>
    public long NaNCount => _nanCount;

    /// <summary>Number of +infinity values.</summary>
    public long PositiveInfinityCount => _positiveInfinityCount;

    /// <summary>Number of -infinity values.</summary>
    public long NegativeInfinityCount => _negativeInfinityCount;

    /// <summary>All observations: finite values, nulls, NaN and infinities.</summary>
    public long TotalCount => _count + _nullCount + _nanCount + _positiveInfinityCount + _negativeInfinityCount;

    /// <summary>Smallest finite value, or NaN when there is none.</summary>
    public double Min => _count == 0 ? double.NaN : _min;

    /// <summary>Largest finite value, or NaN when there is none.</summary>
    public double Max => _count == 0 ? double.NaN : _max;

    /// <summary>Mean of the finite values, or NaN when there is none.</summary>
    public double Mean => _count == 0 ? double.NaN : _mean;

    /// <summary>Population variance (divided by n) of the finite values, or NaN when there is none.</summary>
    public double Variance => _count == 0 ? double.NaN : Math.Max(0.0, _m2 / _count);

    /// <summary>Sample variance (divided by n - 1) of the finite values, or NaN for fewer than two.</summary>
    public double SampleVariance => _count < 2 ? double.NaN : Math.Max(0.0, _m2 / (_count - 1));

    /// <summary>Population standard deviation, the square root of <see cref="Variance"/>.</summary>
    public double StandardDeviation => Math.Sqrt(Variance);

    /// <summary>Records one value: finite values update the moments; NaN and infinities are only counted.</summary>
    /// <param name="value">The value.</param>
    public void Update(double value)
    {
        if (double.IsFinite(value))
        {
            var n = ++_count;
            var delta = value - _mean;
            _mean += delta / n;
            _m2 += delta * (value - _mean);
            if (value < _min)
            {
                _min = value;
            }

            if (value > _max)
            {
                _max = value;
            }
        }
        else if (double.IsNaN(value))
        {
            _nanCount++;
        }
        else if (value > 0)
        {
            _positiveInfinityCount++;
        }
        else
        {
            _negativeInfinityCount++;
        }
    }

    /// <summary>Records a null (missing) value.</summary>
    public void UpdateNull() => _nullCount++;

    /// <summary>Merges another summary into this one; the result describes the union of both populations.</summary>
    /// <param name="other">The summary to merge in (not modified).</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="OverflowException">A merged count, or their total, would exceed <see cref="long.MaxValue"/>;
    /// this summary is unchanged.</exception>
    public void Merge(MomentSummary other)
    {
        ArgumentNullException.ThrowIfNull(other);

        // Every count is non-negative, so a total that fits means each count fits: checked before anything changes.
        _ = checked(TotalCount + other.TotalCount);
        _nullCount += other._nullCount;
        _nanCount += other._nanCount;
        _positiveInfinityCount += other._positiveInfinityCount;
        _negativeInfinityCount += other._negativeInfinityCount;
        if (other._count == 0)
        {
            return;
        }

        if (_count == 0)
        {
            _count = other._count;
            _mean = other._mean;
            _m2 = other._m2;
            _min = other._min;
            _max = other._max;
            return;
        }

        // Chan et al.: combine means weighted by counts and add the between-group term to M2.
        var na = (double)_count;
        var nb = (double)other._count;
        var n = na + nb;
        var delta = other._mean - _mean;
        _mean += delta * (nb / n);
        _m2 += other._m2 + (delta * delta * (na * nb / n));
        _count += other._count;
        _min = Math.Min(_min, other._min);
        _max = Math.Max(_max, other._max);
    }

    /// <summary>Returns the summary to its empty state.</summary>
    public void Reset()
    {
        _count = _nullCount = _nanCount = _positiveInfinityCount = _negativeInfinityCount = 0;
        _min = double.PositiveInfinity;
        _max = double.NegativeInfinity;
        _mean = _m2 = 0;
    }

    /// <summary>A one-line summary of the counts and moments.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"count={_count}, nulls={_nullCount}, nan={_nanCount}, +inf={_positiveInfinityCount}, -inf={_negativeInfinityCount}, min={Min}, max={Max}, mean={Mean}, var={Variance}");

    /// <summary>Writes the 72-byte little-endian form: five counts, then min, max, mean and M2.</summary>
    internal void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt64LittleEndian(destination, _count);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], _nullCount);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], _nanCount);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], _positiveInfinityCount);
        BinaryPrimitives.WriteInt64LittleEndian(destination[32..], _negativeInfinityCount);
        BinaryPrimitives.WriteDoubleLittleEndian(destination[40..], _min);
        BinaryPrimitives.WriteDoubleLittleEndian(destination[48..], _max);
        BinaryPrimitives.WriteDoubleLittleEndian(destination[56..], _mean);
        BinaryPrimitives.WriteDoubleLittleEndian(destination[64..], _m2);
    }

    /// <summary>Reads and validates the form written by <see cref="WriteTo"/>.</summary>
    /// <exception cref="FormatException">The bytes are truncated or describe impossible moments.</exception>
    internal static MomentSummary Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < SerializedSize)
        {
            throw new FormatException("Invalid moments: truncated.");
        }

        var result = new MomentSummary
        {
            _count = BinaryPrimitives.ReadInt64LittleEndian(source),
            _nullCount = BinaryPrimitives.ReadInt64LittleEndian(source[8..]),
            _nanCount = BinaryPrimitives.ReadInt64LittleEndian(source[16..]),
            _positiveInfinityCount = BinaryPrimitives.ReadInt64LittleEndian(source[24..]),
            _negativeInfinityCount = BinaryPrimitives.ReadInt64LittleEndian(source[32..]),
            _min = BinaryPrimitives.ReadDoubleLittleEndian(source[40..]),
            _max = BinaryPrimitives.ReadDoubleLittleEndian(source[48..]),
            _mean = BinaryPrimitives.ReadDoubleLittleEndian(source[56..]),
            _m2 = BinaryPrimitives.ReadDoubleLittleEndian(source[64..]),
        };

        if (result._count < 0 || result._nullCount < 0 || result._nanCount < 0 || result._positiveInfinityCount < 0 || result._negativeInfinityCount < 0)
        {
            throw new FormatException("Invalid moments: a count is negative.");
        }

        if ((UInt128)(ulong)result._count + (ulong)result._nullCount + (ulong)result._nanCount + (ulong)result._positiveInfinityCount + (ulong)result._negativeInfinityCount > long.MaxValue)
        {
            throw new FormatException("Invalid moments: the counts total more than Int64.MaxValue.");
        }

        if (result._count > 0)
        {
            // The mean lies in [min, max] and M2 = n * variance <= n * (max - min)^2 / 4, up to rounding.
            var range = result._max - result._min;
            var slack = 1e-9 * (Math.Abs(result._min) + Math.Abs(result._max));
            if (!(double.IsFinite(result._min) && double.IsFinite(result._max) && range >= 0 && double.IsFinite(range)
                && result._mean >= result._min - slack && result._mean <= result._max + slack
                && result._m2 >= 0 && result._m2 <= (result._count * range * range * 0.2500001) + slack))
            {
                throw new FormatException("Invalid moments: min, max, mean or M2 is not consistent.");
            }
        }

        return result;
    }
}
