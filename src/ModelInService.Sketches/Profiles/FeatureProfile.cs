using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;

namespace ModelInService.Sketches;

/// <summary>
/// The mergeable summary of one feature over one interval: for a numeric feature, <see cref="MomentSummary"/>
/// moments and a <see cref="KllDoublesSketch"/> of the finite values; for a categorical feature, a
/// <see cref="CategoricalSketch"/> and a null count. Profiles of consecutive intervals merge into the profile of the
/// window (60 one-minute profiles into an hour) without revisiting any value, and serialize to a versioned binary
/// form that embeds the sketch bytes.
/// </summary>
/// <remarks>
/// <para>The sketch and moment objects exposed by <see cref="Quantiles"/>, <see cref="Moments"/> and
/// <see cref="Categories"/> belong to the profile: read them, but update through the profile so they stay
/// consistent.</para>
/// <para>Thread safety: not thread-safe; serialize updates, merges, queries and serialization on one instance.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class FeatureProfile
{
    /// <summary>Current serialized format version.</summary>
    public const byte FormatVersion = 1;

    private const uint Magic = 0x5046534D; // "MSFP" little-endian
    private const int HeaderSize = 8;

    /// <summary>Moments of a numeric feature (null for categorical).</summary>
    private readonly MomentSummary? _moments;

    /// <summary>Quantile sketch of the finite values of a numeric feature (null for categorical).</summary>
    private readonly KllDoublesSketch? _quantiles;

    /// <summary>Category counts of a categorical feature (null for numeric).</summary>
    private readonly CategoricalSketch? _categories;

    /// <summary>Null count of a categorical feature (numeric features count nulls in the moments).</summary>
    private long _categoricalNullCount;

    private FeatureProfile(MomentSummary moments, KllDoublesSketch quantiles)
    {
        Kind = FeatureKind.Numeric;
        _moments = moments;
        _quantiles = quantiles;
    }

    private FeatureProfile(CategoricalSketch categories, long nullCount)
    {
        Kind = FeatureKind.Categorical;
        _categories = categories;
        _categoricalNullCount = nullCount;
    }

    /// <summary>Creates an empty numeric profile.</summary>
    /// <param name="k">KLL accuracy parameter (default 200: about 1.33% rank error, ~5 KB at a million values).</param>
    /// <param name="random">Random source for the sketch's compaction; <see cref="Random.Shared"/> when null.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is out of range.</exception>
    public static FeatureProfile CreateNumeric(int k = KllSketch.DefaultK, Random? random = null) =>
        new(new MomentSummary(), new KllDoublesSketch(k, random));

    /// <summary>Creates an empty categorical profile.</summary>
    /// <param name="maxTrackedCategories">Distinct categories counted exactly before the summary becomes a bounded
    /// frequent-items sketch (default 256).</param>
    /// <returns>The profile.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTrackedCategories"/> is out of range.</exception>
    public static FeatureProfile CreateCategorical(int maxTrackedCategories = CategoricalSketch.DefaultMaxTrackedCategories) =>
        new(new CategoricalSketch(maxTrackedCategories), 0);

    /// <summary>The kind of feature.</summary>
    public FeatureKind Kind { get; }

    /// <summary>All observations, nulls (and for numeric features NaN and infinities) included.</summary>
    public long TotalCount => _moments?.TotalCount ?? (_categories!.N + _categoricalNullCount);

    /// <summary>Number of null observations.</summary>
    public long NullCount => _moments?.NullCount ?? _categoricalNullCount;

    /// <summary>Moments of a numeric feature; null for a categorical one.</summary>
    public MomentSummary? Moments => _moments;

    /// <summary>Quantile sketch of the finite values of a numeric feature; null for a categorical one.</summary>
    public KllDoublesSketch? Quantiles => _quantiles;

    /// <summary>Category counts of a categorical feature; null for a numeric one.</summary>
    public CategoricalSketch? Categories => _categories;

    /// <summary>
    /// Records a numeric value: finite values go to the moments and the quantile sketch; NaN and infinities are
    /// counted in the moments only (so they never distort quantiles or distances).
    /// </summary>
    /// <param name="value">The value.</param>
    /// <exception cref="InvalidOperationException">The profile is categorical.</exception>
    public void Update(double value)
    {
        if (_moments is null)
        {
            throw new InvalidOperationException("A categorical profile takes labels or codes, not doubles.");
        }

        _moments.Update(value);
        if (double.IsFinite(value))
        {
            _quantiles!.Update(value);
        }
    }

    /// <summary>Records an integer: a value of a numeric feature, or a code of a categorical one.</summary>
    /// <param name="value">The value or code.</param>
    public void Update(long value)
    {
        if (_categories is not null)
        {
            _categories.Update(value);
        }
        else
        {
            Update((double)value);
        }
    }

    /// <summary>Records a label of a categorical feature; null counts as a missing value.</summary>
    /// <param name="label">The label, or null.</param>
    /// <exception cref="InvalidOperationException">The profile is numeric.</exception>
    public void Update(string? label)
    {
        if (_categories is null)
        {
            throw new InvalidOperationException("A numeric profile takes numbers, not labels.");
        }

        if (label is null)
        {
            _categoricalNullCount++;
        }
        else
        {
            _categories.Update(label);
        }
    }

    /// <summary>Records a missing value.</summary>
    public void UpdateNull()
    {
        if (_moments is not null)
        {
            _moments.UpdateNull();
        }
        else
        {
            _categoricalNullCount++;
        }
    }

    /// <summary>Merges another profile of the same kind into this one (the other is not modified).</summary>
    /// <param name="other">The profile to merge in.</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ArgumentException">The profiles are of different kinds.</exception>
    /// <exception cref="OverflowException">The merged count of observations would exceed <see cref="long.MaxValue"/>;
    /// this profile is unchanged.</exception>
    public void Merge(FeatureProfile other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Kind != Kind)
        {
            throw new ArgumentException($"Cannot merge a {other.Kind} profile into a {Kind} profile.", nameof(other));
        }

        // Every count is part of the total: a total that fits means no part overflows, so nothing changes half-way.
        _ = checked(TotalCount + other.TotalCount);

        if (_moments is not null)
        {
            _moments.Merge(other._moments!);
            _quantiles!.Merge(other._quantiles!);
        }
        else
        {
            _categoricalNullCount += other._categoricalNullCount;
            _categories!.Merge(other._categories!);
        }
    }

    /// <summary>Returns the profile to its empty state, keeping its settings.</summary>
    public void Reset()
    {
        _moments?.Reset();
        _quantiles?.Reset();
        _categories?.Reset();
        _categoricalNullCount = 0;
    }

    /// <summary>Number of bytes <see cref="WriteTo"/> writes.</summary>
    /// <returns>The serialized size.</returns>
    public int GetSerializedSizeBytes() => Kind == FeatureKind.Numeric
        ? HeaderSize + MomentSummary.SerializedSize + 4 + _quantiles!.GetSerializedSizeBytes()
        : HeaderSize + 8 + 4 + _categories!.GetSerializedSizeBytes();

    /// <summary>
    /// Serializes the profile. Format version 1, little-endian: magic "MSFP", version, kind (1 numeric,
    /// 2 categorical), two reserved bytes; numeric: 72 bytes of moments, then the length (u32) and bytes of the
    /// DataSketches KLL sketch; categorical: the null count (i64), then the length (u32) and bytes of the
    /// <see cref="CategoricalSketch"/>.
    /// </summary>
    /// <returns>A new array.</returns>
    public byte[] ToByteArray()
    {
        var bytes = new byte[GetSerializedSizeBytes()];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Writes the serialized form (see <see cref="ToByteArray"/>).</summary>
    /// <param name="destination">At least <see cref="GetSerializedSizeBytes"/> bytes.</param>
    /// <returns>Bytes written.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small.</exception>
    public int WriteTo(Span<byte> destination)
    {
        var size = GetSerializedSizeBytes();
        SerializationGuard.EnsureRoom(destination, size);

        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        destination[4] = FormatVersion;
        destination[5] = (byte)Kind;
        destination[6] = 0;
        destination[7] = 0;
        var offset = HeaderSize;
        int written;
        if (Kind == FeatureKind.Numeric)
        {
            _moments!.WriteTo(destination[offset..]);
            offset += MomentSummary.SerializedSize;
            written = _quantiles!.WriteTo(destination[(offset + 4)..]);
        }
        else
        {
            BinaryPrimitives.WriteInt64LittleEndian(destination[offset..], _categoricalNullCount);
            offset += 8;
            written = _categories!.WriteTo(destination[(offset + 4)..]);
        }

        BinaryPrimitives.WriteInt32LittleEndian(destination[offset..], written);
        return offset + 4 + written;
    }

    /// <summary>Reads a profile written by <see cref="ToByteArray"/>, validating it completely.</summary>
    /// <param name="bytes">The serialized profile.</param>
    /// <param name="random">Random source for later compactions of a numeric profile's sketch.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="FormatException">The bytes are truncated, inconsistent, of an unknown version, or not a
    /// profile.</exception>
    public static FeatureProfile Deserialize(ReadOnlySpan<byte> bytes, Random? random = null)
    {
        if (bytes.Length < HeaderSize)
        {
            throw new FormatException("Invalid feature profile bytes: truncated header.");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
        {
            throw new FormatException("Invalid feature profile bytes: wrong magic number.");
        }

        if (bytes[4] != FormatVersion)
        {
            throw new FormatException(string.Create(
                CultureInfo.InvariantCulture, $"Unsupported feature profile format version {bytes[4]} (this library reads {FormatVersion})."));
        }

        var kind = (FeatureKind)bytes[5];
        var offset = HeaderSize;
        if (kind == FeatureKind.Numeric)
        {
            if (bytes.Length < offset + MomentSummary.SerializedSize)
            {
                throw new FormatException("Invalid feature profile bytes: truncated moments.");
            }

            var moments = MomentSummary.Read(bytes[offset..]);
            offset += MomentSummary.SerializedSize;
            var sketchBytes = ReadLengthPrefixed(bytes, offset);
            var sketch = KllDoublesSketch.Deserialize(sketchBytes, random);
            if (sketch.M != KllHelper.DefaultM)
            {
                // Profiles always write m = 8; another m could not merge with this library's profiles.
                throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"Invalid feature profile bytes: the quantile sketch's m is {sketch.M}, profiles use {KllHelper.DefaultM}."));
            }

            if (sketch.N != moments.Count
                || (sketch.N > 0 && (sketch.Min != moments.Min || sketch.Max != moments.Max)))
            {
                throw new FormatException("Invalid feature profile bytes: the moments and the quantile sketch disagree.");
            }

            return new FeatureProfile(moments, sketch);
        }

        if (kind == FeatureKind.Categorical)
        {
            if (bytes.Length < offset + 8)
            {
                throw new FormatException("Invalid feature profile bytes: truncated null count.");
            }

            var nulls = BinaryPrimitives.ReadInt64LittleEndian(bytes[offset..]);
            if (nulls < 0)
            {
                throw new FormatException("Invalid feature profile bytes: negative null count.");
            }

            offset += 8;
            var sketchBytes = ReadLengthPrefixed(bytes, offset);
            var categories = CategoricalSketch.Read(sketchBytes, out var used);
            if (used != sketchBytes.Length)
            {
                throw new FormatException("Invalid feature profile bytes: the categorical sketch length is inconsistent.");
            }

            if (nulls > long.MaxValue - categories.N)
            {
                throw new FormatException("Invalid feature profile bytes: the null count and the category count total more than Int64.MaxValue.");
            }

            return new FeatureProfile(categories, nulls);
        }

        throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"Invalid feature profile bytes: unknown kind {bytes[5]}."));
    }

    /// <summary>A one-line summary.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => Kind == FeatureKind.Numeric
        ? string.Create(CultureInfo.InvariantCulture, $"Numeric profile: {_moments}")
        : string.Create(CultureInfo.InvariantCulture, $"Categorical profile: n={_categories!.N}, nulls={_categoricalNullCount}, tracked={_categories.TrackedCount}, maxError={_categories.MaximumError}");

    private static ReadOnlySpan<byte> ReadLengthPrefixed(ReadOnlySpan<byte> bytes, int offset)
    {
        if (bytes.Length < offset + 4)
        {
            throw new FormatException("Invalid feature profile bytes: truncated sketch length.");
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(bytes[offset..]);
        if (length < 0 || length > bytes.Length - offset - 4)
        {
            throw new FormatException("Invalid feature profile bytes: the sketch length exceeds the input.");
        }

        return bytes.Slice(offset + 4, length);
    }
}
