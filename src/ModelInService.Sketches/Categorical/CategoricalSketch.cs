using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace ModelInService.Sketches;

/// <summary>
/// Counts of a categorical feature (string labels or integer codes): exact while at most
/// <see cref="MaxTrackedCategories"/> distinct categories have been seen, then a bounded Misra-Gries frequent-items
/// summary (with DataSketches' purge-by-median) whose counts are lower bounds within <see cref="MaximumError"/> of
/// the truth. Mass that is not attributed to a tracked category is reported as <see cref="OtherCount"/>.
/// Mergeable: merging summaries of two streams gives a summary of the union with the same guarantees.
/// </summary>
/// <remarks>
/// <para>Error: every tracked count c satisfies c &lt;= true count &lt;= c + <see cref="MaximumError"/>; an untracked
/// category's true count is at most <see cref="MaximumError"/>, which is at most 2·N / MaxTrackedCategories.</para>
/// <para>Thread safety: not thread-safe; serialize updates, merges and queries on one instance.</para>
/// </remarks>
[DebuggerDisplay("N = {N}, tracked = {TrackedCount}, maxError = {MaximumError}")]
public sealed class CategoricalSketch
{
    /// <summary>The default cap on tracked categories.</summary>
    public const int DefaultMaxTrackedCategories = 256;

    /// <summary>The largest cap accepted.</summary>
    public const int MaxAllowedTrackedCategories = 1 << 20;

    private const int MinTrackedCategories = 2;
    private const uint Magic = 0x5343534D; // "MSCS" little-endian
    private const byte FormatVersion = 1;
    private const int HeaderSize = 32;
    private const byte KindCode = 0;
    private const byte KindLabel = 1;

    // Reading rejects malformed UTF-8. Writing replaces lone surrogates (which .NET strings may hold) with U+FFFD;
    // two labels that differ only there are then read back as one category with the summed count.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly UTF8Encoding LenientUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>Cap on the number of tracked categories.</summary>
    private readonly int _maxTracked;

    /// <summary>Tracked categories and their counts (lower bounds on the true counts).</summary>
    private readonly Dictionary<Category, long> _counts = [];

    /// <summary>Number of items presented.</summary>
    private long _n;

    /// <summary>Total amount subtracted from every counter by purges: the maximum error of any count.</summary>
    private long _offset;

    /// <summary>Scratch for purges, allocated on the first purge and reused.</summary>
    private Category[]? _scratchKeys;

    /// <summary>Scratch for purges (counts, and a copy for the median).</summary>
    private long[]? _scratchCounts;

    /// <summary>Scratch for the median selection.</summary>
    private long[]? _scratchSorted;

    /// <summary>Creates an empty sketch.</summary>
    /// <param name="maxTrackedCategories">Most distinct categories counted exactly (default 256). Beyond it the
    /// sketch keeps the most frequent ones; the maximum error is at most 2·N / maxTrackedCategories.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxTrackedCategories"/> is below 2 or above
    /// <see cref="MaxAllowedTrackedCategories"/>.</exception>
    public CategoricalSketch(int maxTrackedCategories = DefaultMaxTrackedCategories)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTrackedCategories, MinTrackedCategories);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxTrackedCategories, MaxAllowedTrackedCategories);
        _maxTracked = maxTrackedCategories;
    }

    /// <summary>The cap on tracked categories.</summary>
    public int MaxTrackedCategories => _maxTracked;

    /// <summary>Number of items presented. Exact.</summary>
    public long N => _n;

    /// <summary>Whether no item has been presented.</summary>
    public bool IsEmpty => _n == 0;

    /// <summary>Whether every count is exact (no purge has happened in this sketch or any merged into it).</summary>
    public bool IsExact => _offset == 0;

    /// <summary>The largest possible undercount of any category (0 while exact).</summary>
    public long MaximumError => _offset;

    /// <summary>Number of categories currently tracked.</summary>
    public int TrackedCount => _counts.Count;

    /// <summary>Items not attributed to a tracked category: N minus the sum of tracked counts (0 while exact).</summary>
    public long OtherCount
    {
        get
        {
            long sum = 0;
            foreach (var count in _counts.Values)
            {
                sum += count;
            }

            return _n - sum;
        }
    }

    /// <summary>Counts one occurrence of a label. Allocation-free for labels already tracked.</summary>
    /// <param name="label">The label.</param>
    /// <exception cref="ArgumentNullException"><paramref name="label"/> is null (count nulls in the profile instead).</exception>
    public void Update(string label) => Add(Category.FromLabel(label), 1);

    /// <summary>Counts one occurrence of an integer code. Allocation-free for codes already tracked.</summary>
    /// <param name="code">The code.</param>
    public void Update(long code) => Add(Category.FromCode(code), 1);

    /// <summary>Counts one occurrence of a category.</summary>
    /// <param name="category">The category.</param>
    public void Update(Category category) => Add(category, 1);

    /// <summary>The count of a category with its bounds (count 0 and upper bound <see cref="MaximumError"/> when
    /// the category is not tracked).</summary>
    /// <param name="category">The category.</param>
    /// <returns>The count.</returns>
    public CategoryCount GetCount(Category category)
    {
        var count = _counts.GetValueOrDefault(category);
        return new CategoryCount(category, count, count + _offset);
    }

    /// <summary>The tracked categories, most frequent first (ties in a fixed order: codes ascending, then labels).</summary>
    /// <returns>A new list.</returns>
    public IReadOnlyList<CategoryCount> GetFrequentItems()
    {
        var result = new List<CategoryCount>(_counts.Count);
        foreach (var (category, count) in _counts)
        {
            result.Add(new CategoryCount(category, count, count + _offset));
        }

        result.Sort(static (a, b) =>
        {
            var byCount = b.Count.CompareTo(a.Count);
            return byCount != 0 ? byCount : Category.CompareForOrdering(a.Category, b.Category);
        });
        return result;
    }

    /// <summary>Whether a category is tracked (always true for a category seen while the sketch is exact).</summary>
    /// <param name="category">The category.</param>
    /// <returns>Whether it has a counter.</returns>
    public bool Contains(Category category) => _counts.ContainsKey(category);

    /// <summary>Merges another sketch into this one (Misra-Gries merge: counters added, errors added, then purged
    /// to this sketch's cap). The other sketch is not modified.</summary>
    /// <param name="other">The sketch to merge in.</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="OverflowException">The merged count would exceed <see cref="long.MaxValue"/>; this sketch is
    /// unchanged.</exception>
    public void Merge(CategoricalSketch other)
    {
        ArgumentNullException.ThrowIfNull(other);

        // Checked before anything changes (every counter and the error are at most n, so they cannot overflow after).
        _ = checked(_n + other._n);
        _ = checked(_offset + other._offset);
        if (ReferenceEquals(other, this))
        {
            foreach (var key in _counts.Keys)
            {
                CollectionsMarshal.GetValueRefOrNullRef(_counts, key) *= 2;
            }

            _n *= 2;
            _offset *= 2;
            return;
        }

        foreach (var (category, count) in other._counts)
        {
            Add(category, count);
        }

        // Add counted only the tracked part of other's n; the untracked rest still counts towards N.
        _n += other._n - SumOf(other._counts);
        _offset += other._offset;
    }

    /// <summary>Returns the sketch to its empty state, keeping the cap.</summary>
    public void Reset()
    {
        _counts.Clear();
        _n = 0;
        _offset = 0;
    }

    /// <summary>Number of bytes <see cref="WriteTo"/> writes.</summary>
    /// <returns>The serialized size.</returns>
    public int GetSerializedSizeBytes()
    {
        var size = HeaderSize;
        foreach (var category in _counts.Keys)
        {
            size += EntrySize(category);
        }

        return size;
    }

    /// <summary>
    /// Serializes the sketch (format version 1, little-endian): magic "MSCS", version, cap, entry count, n, maximum
    /// error, then the entries (kind, code or UTF-8 label, count), most frequent first, so equal sketches give
    /// equal bytes.
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
        destination[5] = 0;
        destination[6] = 0;
        destination[7] = 0;
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], _maxTracked);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], _counts.Count);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], _n);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], _offset);
        var offset = HeaderSize;
        foreach (var entry in GetFrequentItems())
        {
            var category = entry.Category;
            if (category.IsCode)
            {
                destination[offset++] = KindCode;
                BinaryPrimitives.WriteInt64LittleEndian(destination[offset..], category.Code);
                offset += 8;
            }
            else
            {
                destination[offset++] = KindLabel;
                var length = LenientUtf8.GetBytes(category.Label, destination[(offset + 4)..]);
                BinaryPrimitives.WriteInt32LittleEndian(destination[offset..], length);
                offset += 4 + length;
            }

            BinaryPrimitives.WriteInt64LittleEndian(destination[offset..], entry.Count);
            offset += 8;
        }

        return offset;
    }

    /// <summary>Reads a sketch written by <see cref="ToByteArray"/>, validating it completely.</summary>
    /// <param name="bytes">The serialized sketch.</param>
    /// <returns>The sketch.</returns>
    /// <exception cref="FormatException">The bytes are truncated, inconsistent or not a categorical sketch.</exception>
    public static CategoricalSketch Deserialize(ReadOnlySpan<byte> bytes) => Read(bytes, out _);

    /// <summary>Reads a sketch and reports how many bytes it used.</summary>
    internal static CategoricalSketch Read(ReadOnlySpan<byte> bytes, out int bytesRead)
    {
        if (bytes.Length < HeaderSize)
        {
            throw Invalid($"need at least {HeaderSize} bytes, got {bytes.Length}");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
        {
            throw InvalidText("wrong magic number");
        }

        if (bytes[4] != FormatVersion)
        {
            throw Invalid($"unsupported format version {bytes[4]}");
        }

        var maxTracked = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        var entryCount = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
        var n = BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]);
        var maxError = BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]);
        if (maxTracked < MinTrackedCategories || maxTracked > MaxAllowedTrackedCategories)
        {
            throw Invalid($"cap {maxTracked} is out of range");
        }

        // The smallest entry is an empty label: 1 + 4 + 8 bytes. Checking against the input size first means the
        // entry count never sizes an allocation beyond what the input can hold.
        if (entryCount < 0 || entryCount > maxTracked || (long)entryCount * 13 > bytes.Length - HeaderSize)
        {
            throw Invalid($"entry count {entryCount} is impossible for cap {maxTracked} and {bytes.Length} bytes");
        }

        if (n < 0 || maxError < 0 || maxError > n)
        {
            throw Invalid($"n = {n} and maximum error = {maxError} are inconsistent");
        }

        var sketch = new CategoricalSketch(maxTracked);
        sketch._counts.EnsureCapacity(entryCount);
        var offset = HeaderSize;
        long sum = 0;
        for (var i = 0; i < entryCount; i++)
        {
            if (bytes.Length - offset < 1)
            {
                throw Invalid($"entry {i} is truncated");
            }

            Category category;
            var kind = bytes[offset++];
            if (kind == KindCode)
            {
                if (bytes.Length - offset < 8)
                {
                    throw Invalid($"entry {i} is truncated");
                }

                category = Category.FromCode(BinaryPrimitives.ReadInt64LittleEndian(bytes[offset..]));
                offset += 8;
            }
            else if (kind == KindLabel)
            {
                if (bytes.Length - offset < 4)
                {
                    throw Invalid($"entry {i} is truncated");
                }

                var length = BinaryPrimitives.ReadInt32LittleEndian(bytes[offset..]);
                offset += 4;
                if (length < 0 || length > bytes.Length - offset)
                {
                    throw Invalid($"label length {length} of entry {i} exceeds the input");
                }

                string label;
                try
                {
                    label = StrictUtf8.GetString(bytes.Slice(offset, length));
                }
                catch (DecoderFallbackException ex)
                {
                    throw new FormatException("Invalid categorical sketch bytes: a label is not valid UTF-8.", ex);
                }

                category = Category.FromLabel(label);
                offset += length;
            }
            else
            {
                throw Invalid($"entry {i} has unknown kind {kind}");
            }

            if (bytes.Length - offset < 8)
            {
                throw Invalid($"entry {i} is truncated");
            }

            var count = BinaryPrimitives.ReadInt64LittleEndian(bytes[offset..]);
            offset += 8;
            if (count <= 0 || count > n - sum)
            {
                throw Invalid($"count {count} of entry {i} is not positive or exceeds n");
            }

            sum += count;
            ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(sketch._counts, category, out _);
            slot += count;
        }

        sketch._n = n;
        sketch._offset = maxError;
        bytesRead = offset;
        return sketch;
    }

    /// <summary>Adds <paramref name="count"/> occurrences; purges by the median counter when the table is full.</summary>
    internal void Add(Category category, long count)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrNullRef(_counts, category);
        if (!Unsafe.IsNullRef(ref slot))
        {
            slot += count;
        }
        else
        {
            if (_counts.Count >= _maxTracked)
            {
                Purge();
            }

            _counts.Add(category, count);
        }

        _n += count;
    }

    /// <summary>
    /// Subtracts the median counter from every counter, drops the counters that reach zero (at least half of them)
    /// and adds the median to the maximum error. Each true count stays within [counter, counter + error].
    /// </summary>
    private void Purge()
    {
        var size = _counts.Count;
        _scratchKeys ??= new Category[_maxTracked];
        _scratchCounts ??= new long[_maxTracked];
        _scratchSorted ??= new long[_maxTracked];
        var i = 0;
        foreach (var (category, count) in _counts)
        {
            _scratchKeys[i] = category;
            _scratchCounts[i] = count;
            i++;
        }

        Array.Copy(_scratchCounts, _scratchSorted, size);
        Array.Sort(_scratchSorted, 0, size);
        var median = _scratchSorted[(size - 1) / 2];
        _offset += median;
        _counts.Clear();
        for (i = 0; i < size; i++)
        {
            var remaining = _scratchCounts[i] - median;
            if (remaining > 0)
            {
                _counts.Add(_scratchKeys[i], remaining);
            }
        }

        Array.Clear(_scratchKeys, 0, size); // do not keep label strings alive
    }

    private static long SumOf(Dictionary<Category, long> counts)
    {
        long sum = 0;
        foreach (var count in counts.Values)
        {
            sum += count;
        }

        return sum;
    }

    private static int EntrySize(Category category) =>
        category.IsCode ? 1 + 8 + 8 : 1 + 4 + LenientUtf8.GetByteCount(category.Label!) + 8;

    private static FormatException Invalid(FormattableString reason) =>
        new("Invalid categorical sketch bytes: " + reason.ToString(CultureInfo.InvariantCulture) + ".");

    private static FormatException InvalidText(string reason) =>
        new("Invalid categorical sketch bytes: " + reason + ".");
}
