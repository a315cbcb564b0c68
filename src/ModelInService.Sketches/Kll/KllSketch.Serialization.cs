using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelInService.Sketches;

/// <summary>Validated state decoded from bytes, handed to a sketch constructor.</summary>
internal readonly struct KllDecodedState<T>
    where T : unmanaged
{
    internal required int K { get; init; }

    internal required int M { get; init; }

    internal required int MinK { get; init; }

    internal required long N { get; init; }

    internal required int NumLevels { get; init; }

    /// <summary>Physical boundaries into <see cref="Items"/>; Levels[NumLevels] == Items.Length.</summary>
    internal required int[] Levels { get; init; }

    internal required T[] Items { get; init; }

    internal required T Min { get; init; }

    internal required T Max { get; init; }

    internal required bool IsLevelZeroSorted { get; init; }
}

// Binary form: Apache DataSketches KLL (family 15). Layout, little-endian:
//   byte 0 preamble ints (2 = empty or single item, 5 = full); byte 1 serial version (1 = empty or compact full,
//   2 = single item, 3 = updatable); byte 2 family (15); byte 3 flags (1 empty, 2 level zero sorted, 4 single item);
//   bytes 4-5 k (u16); byte 6 m; byte 7 unused.
//   Single item: the item at byte 8.
//   Full (compact): bytes 8-15 n (u64); 16-17 min k (u16); 18 number of levels; 19 unused; then the level
//   boundaries (u32 each, the top one omitted: it is the total capacity), min, max, and the retained items.
//   Updatable (Java, serial version 3; read only): as full, but all numLevels + 1 boundaries and every slot of the
//   buffer (free space included) follow.
public abstract partial class KllSketch<T>
{
    private const int PreambleIntsShort = 2;
    private const int PreambleIntsFull = 5;
    private const int SerialVersionEmptyOrFull = 1;
    private const int SerialVersionSingleItem = 2;
    private const int SerialVersionUpdatable = 3;
    private const int Family = 15;
    private const int FlagEmpty = 1;
    private const int FlagLevelZeroSorted = 2;
    private const int FlagSingleItem = 4;
    private const int ShortPreambleBytes = 8;
    private const int FullPreambleBytes = 20;

    private static int ItemSize => Unsafe.SizeOf<T>();

    /// <summary>The number of bytes <see cref="WriteTo"/> writes and <see cref="ToByteArray"/> returns.</summary>
    /// <returns>The serialized size: 8 bytes when empty, 8 + item size for one item, otherwise
    /// 20 + 4·levels + (retained + 2)·item size (about 5 KB for a million doubles at k = 200).</returns>
    public int GetSerializedSizeBytes()
    {
        if (_n == 0)
        {
            return ShortPreambleBytes;
        }

        if (_n == 1)
        {
            return ShortPreambleBytes + ItemSize;
        }

        return FullPreambleBytes + (4 * _numLevels) + ((NumRetained + 2) * ItemSize);
    }

    /// <summary>
    /// Serializes the sketch in Apache DataSketches' compact KLL format, readable by the Java, C++, Go and Python
    /// libraries (and so by Druid, Pinot, Spark, ...). A fresh sketch updated with the same items in the same order
    /// as a DataSketches sketch serializes to the same bytes until its first compaction.
    /// </summary>
    /// <returns>A new array of <see cref="GetSerializedSizeBytes"/> bytes.</returns>
    public byte[] ToByteArray()
    {
        var bytes = new byte[GetSerializedSizeBytes()];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Writes the compact DataSketches form (see <see cref="ToByteArray"/>) into a span.</summary>
    /// <param name="destination">At least <see cref="GetSerializedSizeBytes"/> bytes.</param>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small.</exception>
    public int WriteTo(Span<byte> destination)
    {
        var size = GetSerializedSizeBytes();
        SerializationGuard.EnsureRoom(destination, size);

        var isEmpty = _n == 0;
        var isSingle = _n == 1;
        destination[0] = (byte)(isEmpty || isSingle ? PreambleIntsShort : PreambleIntsFull);
        destination[1] = (byte)(isSingle ? SerialVersionSingleItem : SerialVersionEmptyOrFull);
        destination[2] = Family;
        destination[3] = (byte)((isEmpty ? FlagEmpty : 0) | (_isLevelZeroSorted ? FlagLevelZeroSorted : 0) | (isSingle ? FlagSingleItem : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], (ushort)_k);
        destination[6] = (byte)_m;
        destination[7] = 0;
        if (isEmpty)
        {
            return size;
        }

        if (isSingle)
        {
            WriteItems(destination[ShortPreambleBytes..], _items.AsSpan(_levels[0], 1));
            return size;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], (ulong)_n);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[16..], (ushort)_minK);
        destination[18] = (byte)_numLevels;
        destination[19] = 0;

        // Boundaries are written as DataSketches holds them: offsets into a buffer of full capacity. A decoded
        // sketch keeps only its retained items, so translate its physical offsets.
        var logicalShift = KllHelper.ComputeTotalCapacity(_k, _m, _numLevels) - _items.Length;
        var offset = FullPreambleBytes;
        for (var i = 0; i < _numLevels; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[offset..], (uint)(_levels[i] + logicalShift));
            offset += 4;
        }

        WriteItems(destination[offset..], new ReadOnlySpan<T>(in _min));
        offset += ItemSize;
        WriteItems(destination[offset..], new ReadOnlySpan<T>(in _max));
        offset += ItemSize;
        WriteItems(destination[offset..], _items.AsSpan(_levels[0], NumRetained));
        return size;
    }

    /// <summary>
    /// Decodes and fully validates DataSketches KLL bytes (compact empty, single-item and full forms, and Java's
    /// updatable form). Never allocates more than a small constant plus the input's size.
    /// </summary>
    /// <exception cref="FormatException">The bytes are not a valid KLL sketch of this item type.</exception>
    private protected static KllDecodedState<T> Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < ShortPreambleBytes)
        {
            throw Invalid($"need at least {ShortPreambleBytes} bytes, got {bytes.Length}");
        }

        int preambleInts = bytes[0];
        int serialVersion = bytes[1];
        int family = bytes[2];
        int flags = bytes[3];
        int k = BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]);
        int m = bytes[6];

        if (family != Family)
        {
            throw Invalid($"family id is {family}, expected {Family} (KLL)");
        }

        if (serialVersion is not (SerialVersionEmptyOrFull or SerialVersionSingleItem or SerialVersionUpdatable))
        {
            throw Invalid($"unsupported serial version {serialVersion}");
        }

        if (m < KllHelper.MinM || m > KllHelper.MaxM || (m & 1) != 0)
        {
            throw Invalid($"m is {m}, expected an even value in [{KllHelper.MinM}, {KllHelper.MaxM}]");
        }

        if (k < m)
        {
            throw Invalid($"k is {k}, below m = {m}");
        }

        var isEmpty = (flags & FlagEmpty) != 0;
        var isSingle = (flags & FlagSingleItem) != 0;
        var isLevelZeroSorted = (flags & FlagLevelZeroSorted) != 0;
        if (isEmpty && isSingle)
        {
            throw InvalidText("both the empty and the single-item flags are set");
        }

        if (serialVersion == SerialVersionUpdatable)
        {
            if (preambleInts != PreambleIntsFull)
            {
                throw Invalid($"updatable form needs {PreambleIntsFull} preamble ints, got {preambleInts}");
            }

            return DecodeFull(bytes, k, m, isEmpty, isLevelZeroSorted, updatable: true);
        }

        if (isEmpty || isSingle)
        {
            if (preambleInts != PreambleIntsShort)
            {
                throw Invalid($"empty or single-item form needs {PreambleIntsShort} preamble ints, got {preambleInts}");
            }
        }
        else if (preambleInts != PreambleIntsFull)
        {
            throw Invalid($"full form needs {PreambleIntsFull} preamble ints, got {preambleInts}");
        }

        if (isEmpty)
        {
            if (serialVersion != SerialVersionEmptyOrFull)
            {
                throw Invalid($"empty form needs serial version {SerialVersionEmptyOrFull}, got {serialVersion}");
            }

            return EmptyState(k, m);
        }

        if (isSingle)
        {
            if (serialVersion != SerialVersionSingleItem)
            {
                throw Invalid($"single-item form needs serial version {SerialVersionSingleItem}, got {serialVersion}");
            }

            if (bytes.Length < ShortPreambleBytes + ItemSize)
            {
                throw Invalid($"single-item form needs {ShortPreambleBytes + ItemSize} bytes, got {bytes.Length}");
            }

            var item = ReadItem(bytes[ShortPreambleBytes..]);
            if (T.IsNaN(item))
            {
                throw InvalidText("the item is NaN");
            }

            return new KllDecodedState<T>
            {
                K = k,
                M = m,
                MinK = k,
                N = 1,
                NumLevels = 1,
                Levels = [0, 1],
                Items = [item],
                Min = item,
                Max = item,
                IsLevelZeroSorted = isLevelZeroSorted,
            };
        }

        if (serialVersion != SerialVersionEmptyOrFull)
        {
            throw Invalid($"full compact form needs serial version {SerialVersionEmptyOrFull}, got {serialVersion}");
        }

        return DecodeFull(bytes, k, m, isEmpty: false, isLevelZeroSorted, updatable: false);
    }

    private static KllDecodedState<T> EmptyState(int k, int m) => new()
    {
        K = k,
        M = m,
        MinK = k,
        N = 0,
        NumLevels = 1,
        Levels = [0, 0],
        Items = [], // grows to k on the first update: k is untrusted here
        Min = default,
        Max = default,
        IsLevelZeroSorted = false,
    };

    private static KllDecodedState<T> DecodeFull(ReadOnlySpan<byte> bytes, int k, int m, bool isEmpty, bool isLevelZeroSorted, bool updatable)
    {
        if (bytes.Length < FullPreambleBytes)
        {
            throw Invalid($"full form needs at least {FullPreambleBytes} bytes, got {bytes.Length}");
        }

        var rawN = BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
        int minK = BinaryPrimitives.ReadUInt16LittleEndian(bytes[16..]);
        int numLevels = bytes[18];

        if (rawN > long.MaxValue)
        {
            throw Invalid($"n = {rawN} is too large");
        }

        var n = (long)rawN;
        if (isEmpty != (n == 0))
        {
            throw Invalid($"the empty flag is {(isEmpty ? "set" : "clear")} but n = {n}");
        }

        if (!updatable && n < 2)
        {
            throw Invalid($"the full compact form needs n >= 2, got {n}");
        }

        if (minK < m || minK > k)
        {
            throw Invalid($"min k is {minK}, expected a value in [m = {m}, k = {k}]");
        }

        if (numLevels < 1 || numLevels > KllHelper.MaxLevels || numLevels > KllHelper.UpperBoundOnNumLevels(n))
        {
            throw Invalid($"{numLevels} levels is impossible for n = {n}");
        }

        var capacity = KllHelper.ComputeTotalCapacity(k, m, numLevels);
        var boundaryCount = updatable ? numLevels + 1 : numLevels;
        var levelsBytes = 4 * boundaryCount;
        if (bytes.Length < FullPreambleBytes + levelsBytes)
        {
            throw Invalid($"the level boundaries need {FullPreambleBytes + levelsBytes} bytes, got {bytes.Length}");
        }

        var logical = new long[numLevels + 1];
        for (var i = 0; i < boundaryCount; i++)
        {
            logical[i] = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(FullPreambleBytes + (4 * i))..]);
        }

        if (updatable)
        {
            if (logical[numLevels] != capacity)
            {
                throw Invalid($"the top level boundary is {logical[numLevels]}, expected the capacity {capacity}");
            }
        }
        else
        {
            logical[numLevels] = capacity;
        }

        for (var i = 0; i < numLevels; i++)
        {
            if (logical[i] > logical[i + 1])
            {
                throw Invalid($"level boundaries decrease at level {i}: {logical[i]} > {logical[i + 1]}");
            }
        }

        var retained = (int)(capacity - logical[0]);
        var itemsOffset = FullPreambleBytes + levelsBytes + (2 * ItemSize);
        var storedSlots = updatable ? capacity : retained;
        var needed = (long)itemsOffset + ((long)storedSlots * ItemSize);
        if (bytes.Length < needed)
        {
            throw Invalid($"{storedSlots} items need {needed} bytes, got {bytes.Length}");
        }

        if (n > 0 && retained == 0)
        {
            throw InvalidText("a non-empty sketch retains no item");
        }

        if (isEmpty)
        {
            return EmptyState(k, m);
        }

        // Total weight must equal n: this bounds every level's weight, and so the number of levels, by n.
        UInt128 totalWeight = 0;
        for (var lvl = 0; lvl < numLevels; lvl++)
        {
            totalWeight += (UInt128)(ulong)(logical[lvl + 1] - logical[lvl]) << lvl;
        }

        if (totalWeight != (UInt128)(ulong)n)
        {
            throw Invalid($"the retained items weigh {totalWeight} in total, but n = {n}");
        }

        var minMaxOffset = FullPreambleBytes + levelsBytes;
        var min = ReadItem(bytes[minMaxOffset..]);
        var max = ReadItem(bytes[(minMaxOffset + ItemSize)..]);
        if (T.IsNaN(min) || T.IsNaN(max) || max < min)
        {
            throw Invalid($"min {min} and max {max} are not an ordered pair of numbers");
        }

        var items = new T[retained];
        var firstItemByte = itemsOffset + (updatable ? (int)logical[0] * ItemSize : 0);
        ReadItems(bytes[firstItemByte..], items);

        var levels = new int[numLevels + 1];
        for (var i = 0; i <= numLevels; i++)
        {
            levels[i] = (int)(logical[i] - logical[0]);
        }

        var sawMin = false;
        var sawMax = false;
        for (var lvl = 0; lvl < numLevels; lvl++)
        {
            var mustBeSorted = lvl > 0 || isLevelZeroSorted;
            for (var i = levels[lvl]; i < levels[lvl + 1]; i++)
            {
                var item = items[i];
                if (!(item >= min && item <= max))
                {
                    throw Invalid($"item {item} at level {lvl} lies outside [min, max] = [{min}, {max}] or is NaN");
                }

                sawMin |= item == min;
                sawMax |= item == max;
                if (mustBeSorted && i > levels[lvl] && item < items[i - 1])
                {
                    throw Invalid($"level {lvl} is not sorted");
                }
            }
        }

        if (!IsEstimationShape(numLevels) && !(sawMin && sawMax))
        {
            throw InvalidText("an exact sketch must retain its min and max");
        }

        return new KllDecodedState<T>
        {
            K = k,
            M = m,
            MinK = minK,
            N = n,
            NumLevels = numLevels,
            Levels = levels,
            Items = items,
            Min = min,
            Max = max,
            IsLevelZeroSorted = isLevelZeroSorted,
        };
    }

    private static bool IsEstimationShape(int numLevels) => numLevels > 1;

    private static FormatException Invalid(FormattableString reason) =>
        new("Invalid KLL sketch bytes (" + typeof(T).Name + "): " + reason.ToString(CultureInfo.InvariantCulture) + ".");

    private static FormatException InvalidText(string reason) =>
        new("Invalid KLL sketch bytes (" + typeof(T).Name + "): " + reason + ".");

    private static T ReadItem(ReadOnlySpan<byte> source)
    {
        T value = default;
        ReadItems(source, new Span<T>(ref value));
        return value;
    }

    private static void ReadItems(ReadOnlySpan<byte> source, Span<T> destination)
    {
        var target = MemoryMarshal.AsBytes(destination);
        source[..target.Length].CopyTo(target);
        if (!BitConverter.IsLittleEndian)
        {
            ReverseEach(target);
        }
    }

    private static void WriteItems(Span<byte> destination, ReadOnlySpan<T> items)
    {
        var source = MemoryMarshal.AsBytes(items);
        source.CopyTo(destination);
        if (!BitConverter.IsLittleEndian)
        {
            ReverseEach(destination[..source.Length]);
        }
    }

    private static void ReverseEach(Span<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i += ItemSize)
        {
            bytes.Slice(i, ItemSize).Reverse();
        }
    }
}
