using System.Diagnostics;

namespace ModelInService.Caching;

/// <summary>
/// An exact least-recently-used cache keyed by a 128-bit hash, bounded by entry count and by bytes, with optional
/// time-to-live, and with in-flight entries for single-flight (concurrent identical requests share one computation).
/// One lock guards the map and the recency list: every operation is O(1) and short.
/// </summary>
[DebuggerDisplay("{Count} entries, {Bytes} bytes")]
internal sealed class LruCache<TValue> : ICacheStore<TValue>
{
    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, Node> _map = [];
    private readonly int _maxEntries;
    private readonly long _maxBytes;

    /// <summary>Most recently used completed entry; in-flight entries are in the map only.</summary>
    private Node? _head;

    /// <summary>Least recently used completed entry: the next to evict.</summary>
    private Node? _tail;

    private int _count;
    private long _bytes;

    public LruCache(int maxEntries, long maxBytes)
    {
        _maxEntries = maxEntries;
        _maxBytes = maxBytes;
    }

    public long Hits { get; private set; }

    public long Misses { get; private set; }

    public long Evictions { get; private set; }

    /// <summary>Requests that joined an identical in-flight computation.</summary>
    public long Joins { get; private set; }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Finds <paramref name="key"/>: a hit, an in-flight computation to join, or a new in-flight entry the caller now owns.</summary>
    public Lookup Find(UInt128 key, long now, bool count = true)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node))
            {
                if (node.InFlight)
                {
                    // The completion source exists only once somebody waits: most misses are never joined.
                    node.Pending ??= new TaskCompletionSource<TValue>(TaskCreationOptions.RunContinuationsAsynchronously);
                    if (count)
                    {
                        Joins++;
                    }

                    return new Lookup(LookupKind.Join, default, node.Pending.Task, null);
                }

                if (node.ExpiresAt > now)
                {
                    MoveToFront(node);
                    if (count)
                    {
                        Hits++;
                    }

                    return new Lookup(LookupKind.Hit, node.Value, null, null);
                }

                RemoveCompleted(node); // expired: a miss
            }

            if (count)
            {
                Misses++;
            }

            var owned = new Node(key) { InFlight = true };
            _map[key] = owned;
            return new Lookup(LookupKind.Owner, default, null, owned);
        }
    }

    /// <summary>Completes an owned entry: stores it (unless <paramref name="store"/> is false or it cannot fit) and wakes joiners.</summary>
    public void Complete(Node node, TValue value, long size, long expiresAt, bool store)
    {
        TaskCompletionSource<TValue>? pending;
        lock (_lock)
        {
            pending = node.Pending;
            node.Pending = null;
            node.InFlight = false;
            if (!store || size > _maxBytes)
            {
                RemoveFromMap(node);
            }
            else
            {
                node.Value = value;
                node.Size = size;
                node.ExpiresAt = expiresAt;
                AddToFront(node);
                while (_count > _maxEntries || _bytes > _maxBytes)
                {
                    RemoveCompleted(_tail!);
                    Evictions++;
                }
            }
        }

        pending?.TrySetResult(value);
    }

    /// <summary>Abandons an owned entry: joiners get <paramref name="error"/> and nothing is stored.</summary>
    public void Fail(Node node, Exception error)
    {
        TaskCompletionSource<TValue>? pending;
        lock (_lock)
        {
            pending = node.Pending;
            node.Pending = null;
            node.InFlight = false;
            RemoveFromMap(node);
        }

        pending?.TrySetException(error);
    }

    /// <summary>Removes every entry (e.g. after a model version change).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            for (var node = _head; node is not null;)
            {
                var next = node.Next;
                RemoveCompleted(node);
                node = next;
            }
        }
    }

    private void RemoveFromMap(Node node)
    {
        if (_map.TryGetValue(node.Key, out var current) && ReferenceEquals(current, node))
        {
            _map.Remove(node.Key);
        }
    }

    private void RemoveCompleted(Node node)
    {
        RemoveFromMap(node);
        if (node.Prev is null)
        {
            _head = node.Next;
        }
        else
        {
            node.Prev.Next = node.Next;
        }

        if (node.Next is null)
        {
            _tail = node.Prev;
        }
        else
        {
            node.Next.Prev = node.Prev;
        }

        node.Prev = node.Next = null;
        node.Value = default;
        _count--;
        _bytes -= node.Size;
    }

    private void AddToFront(Node node)
    {
        node.Prev = null;
        node.Next = _head;
        if (_head is not null)
        {
            _head.Prev = node;
        }

        _head = node;
        _tail ??= node;
        _count++;
        _bytes += node.Size;
    }

    private void MoveToFront(Node node)
    {
        if (ReferenceEquals(node, _head))
        {
            return;
        }

        node.Prev!.Next = node.Next;
        if (node.Next is null)
        {
            _tail = node.Prev;
        }
        else
        {
            node.Next.Prev = node.Prev;
        }

        node.Prev = null;
        node.Next = _head;
        _head!.Prev = node;
        _head = node;
    }

    public enum LookupKind
    {
        Hit,
        Join,
        Owner,
    }

    public readonly record struct Lookup(LookupKind Kind, TValue? Value, Task<TValue>? Shared, Node? Owned);

    public sealed class Node(UInt128 key)
    {
        public UInt128 Key { get; } = key;

        public TValue? Value { get; set; }

        public long Size { get; set; }

        public long ExpiresAt { get; set; } = long.MaxValue;

        /// <summary>Being computed by its owner; joiners wait on <see cref="Pending"/>.</summary>
        public bool InFlight { get; set; }

        public TaskCompletionSource<TValue>? Pending { get; set; }

        public Node? Prev { get; set; }

        public Node? Next { get; set; }
    }
}
