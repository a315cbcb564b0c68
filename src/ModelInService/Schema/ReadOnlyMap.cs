using System.Collections;
using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace ModelInService.Schema;

/// <summary>
/// The keys that every row of one <c>seq(map)</c> output shares (a ZipMap's class labels, in the map's key order),
/// with a key → position index for wide maps. Built once per binder; read by every row.
/// </summary>
internal sealed class SharedMapKeys<TKey>
    where TKey : notnull
{
    /// <summary>Up to this many keys a linear scan beats hashing.</summary>
    private const int ScanLimit = 16;

    private readonly Dictionary<TKey, int>? _index;

    public SharedMapKeys(TKey[] keys)
    {
        Keys = keys;
        View = new ReadOnlyCollection<TKey>(keys);
        if (keys.Length > ScanLimit)
        {
            _index = new Dictionary<TKey, int>(keys.Length);
            for (var i = 0; i < keys.Length; i++)
            {
                _index.TryAdd(keys[i], i);
            }
        }
    }

    public TKey[] Keys { get; }

    /// <summary>
    /// What callers see as a row's keys: one read-only view for every row. Never the array itself, which a cast
    /// would let a caller change under every row and every later prediction.
    /// </summary>
    public ReadOnlyCollection<TKey> View { get; }

    /// <summary>The position of <paramref name="key"/>, or -1.</summary>
    public int IndexOf(TKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_index is not null)
        {
            return _index.TryGetValue(key, out var at) ? at : -1;
        }

        var keys = Keys;
        for (var i = 0; i < keys.Length; i++)
        {
            if (EqualityComparer<TKey>.Default.Equals(keys[i], key))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>
/// One row of a <c>seq(map)</c> output bound to an <see cref="IReadOnlyDictionary{TKey, TValue}"/> member: the
/// row's values and the keys shared by every row (<see cref="SharedMapKeys{TKey}"/>), instead of a
/// <see cref="Dictionary{TKey, TValue}"/> per row (its buckets and entries were two thirds of the random forest's
/// bytes per request). The values are a slice of an array that narrow maps share with up to
/// <see cref="RowsPerChunk"/> rows of the same run (one array per chunk instead of one per row). Enumerates in the
/// map's key order, like ONNX Runtime's map. Read-only: the member's declared type promises no writes, so a cached
/// output can hand out the same instance.
/// </summary>
[DebuggerDisplay("Count = {Count}")]
internal sealed class ReadOnlyMap<TKey, TValue> : IReadOnlyDictionary<TKey, TValue>
    where TKey : notnull
{
    /// <summary>Maps of up to this many keys share value arrays between rows.</summary>
    public const int ShareValuesUpTo = 16;

    /// <summary>Rows per shared value array: what one retained row can keep alive is bounded (64 x 16 values).</summary>
    public const int RowsPerChunk = 64;

    private readonly SharedMapKeys<TKey> _keys;
    private readonly TValue[] _values;
    private readonly int _offset;

    public ReadOnlyMap(SharedMapKeys<TKey> keys, TValue[] values, int offset)
    {
        Debug.Assert(offset >= 0 && offset + keys.Keys.Length <= values.Length, "the row's slice lies in the array");
        _keys = keys;
        _values = values;
        _offset = offset;
    }

    public int Count => _keys.Keys.Length;

    public IEnumerable<TKey> Keys => _keys.View;

    /// <summary>The row's values in key order (an iterator: the shared array is not handed out, so no cast can change other rows).</summary>
    public IEnumerable<TValue> Values
    {
        get
        {
            for (var i = 0; i < Count; i++)
            {
                yield return _values[_offset + i];
            }
        }
    }

    public TValue this[TKey key] => _keys.IndexOf(key) is var at and >= 0
        ? _values[_offset + at]
        : throw new KeyNotFoundException($"The key '{key}' is not one of this output's {Count} keys.");

    /// <summary>Builds the rows' maps from <paramref name="rows"/> (row after row of <paramref name="keys"/>' width values), one map per owner.</summary>
    public static void Distribute<TOwner>(SharedMapKeys<TKey> keys, ReadOnlySpan<TValue> rows, TOwner[] owners, int count, Action<TOwner, IReadOnlyDictionary<TKey, TValue>> set)
    {
        var width = keys.Keys.Length;
        TValue[]? chunk = null;
        var used = 0;
        for (var r = 0; r < count; r++)
        {
            var row = rows.Slice(r * width, width);
            if (width > ShareValuesUpTo)
            {
                set(owners[r], new ReadOnlyMap<TKey, TValue>(keys, row.ToArray(), 0));
                continue;
            }

            if (chunk is null || used + width > chunk.Length)
            {
                chunk = new TValue[Math.Max(1, Math.Min(count - r, RowsPerChunk) * width)];
                used = 0;
            }

            row.CopyTo(chunk.AsSpan(used));
            set(owners[r], new ReadOnlyMap<TKey, TValue>(keys, chunk, used));
            used += width;
        }
    }

    /// <summary>The key at <paramref name="index"/> in the map's order (readers that index instead of enumerating).</summary>
    internal TKey KeyAt(int index) => _keys.Keys[index];

    /// <summary>The value at <paramref name="index"/> in the map's order.</summary>
    internal TValue ValueAt(int index) => _values[_offset + index];

    public bool ContainsKey(TKey key) => _keys.IndexOf(key) >= 0;

    public bool TryGetValue(TKey key, [MaybeNullWhen(false)] out TValue value)
    {
        if (_keys.IndexOf(key) is var at and >= 0)
        {
            value = _values[_offset + at];
            return true;
        }

        value = default;
        return false;
    }

    public IEnumerator<KeyValuePair<TKey, TValue>> GetEnumerator()
    {
        var keys = _keys.Keys;
        for (var i = 0; i < keys.Length; i++)
        {
            yield return new KeyValuePair<TKey, TValue>(keys[i], _values[_offset + i]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
