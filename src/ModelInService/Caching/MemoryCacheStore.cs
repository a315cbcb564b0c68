using System.Diagnostics;
using Microsoft.Extensions.Caching.Memory;

namespace ModelInService.Caching;

/// <summary>
/// A cache store in the app's <see cref="IMemoryCache"/>: the model's predictions share the app's <c>SizeLimit</c>,
/// compaction and expiration scan with everything else the app caches. Each entry's <c>Size</c> is the output's
/// estimated bytes (the built-in LRU's unit) mapped through <see cref="CachingOptions"/>' entry-size function (bytes by
/// default: an app whose <c>SizeLimit</c> counts something else maps bytes to its unit). In-flight entries
/// (single-flight) stay in a private map: only completed outputs go into the app's cache. The entries' keys are private
/// to this store, so other models and other users of the same cache never see them.
/// </summary>
/// <remarks>
/// Expiry is checked on the injected <see cref="TimeProvider"/> at every lookup (as the LRU does), and the entry is also
/// given an absolute expiration so the app's cache frees it without a lookup. <see cref="CachingOptions.MaxEntries"/> and
/// <see cref="CachingOptions.MaxBytes"/> do not apply: the app's cache decides what to evict.
/// </remarks>
[DebuggerDisplay("{Count} entries, {Bytes} bytes")]
internal sealed class MemoryCacheStore<TValue> : ICacheStore<TValue>
{
    private readonly IMemoryCache _cache;
    private readonly Func<long, long> _entrySize;
    private readonly TimeSpan? _timeToLive;

    /// <summary>Makes this store's keys distinct from every other key in the app's cache (compared by reference).</summary>
    private readonly object _scope = new();

    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, LruCache<TValue>.Node> _inFlight = [];
    private readonly PostEvictionDelegate _evicted;

    private long _hits;
    private long _misses;
    private long _evictions;
    private long _joins;
    private long _count;
    private long _bytes;

    public MemoryCacheStore(IMemoryCache cache, Func<long, long>? entrySize, TimeSpan? timeToLive)
    {
        _cache = cache;
        _entrySize = entrySize ?? (static bytes => bytes);
        _timeToLive = timeToLive;
        _evicted = OnEvicted;
    }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Entries the app's cache removed for capacity (compaction or its size limit).</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    public long Joins => Interlocked.Read(ref _joins);

    /// <summary>This model's entries in the app's cache (from the store's adds and the cache's eviction callbacks).</summary>
    public int Count => (int)Math.Min(int.MaxValue, Interlocked.Read(ref _count));

    /// <summary>Estimated bytes of this model's entries in the app's cache.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public LruCache<TValue>.Lookup Find(UInt128 key, long now, bool count = true)
    {
        lock (_lock)
        {
            if (_inFlight.TryGetValue(key, out var node))
            {
                node.Pending ??= new TaskCompletionSource<TValue>(TaskCreationOptions.RunContinuationsAsynchronously);
                if (count)
                {
                    Interlocked.Increment(ref _joins);
                }

                return new LruCache<TValue>.Lookup(LruCache<TValue>.LookupKind.Join, default, node.Pending.Task, null);
            }

            var storeKey = new StoreKey(_scope, key);
            if (_cache.TryGetValue(storeKey, out var found) && found is Entry entry)
            {
                if (entry.ExpiresAt > now)
                {
                    if (count)
                    {
                        Interlocked.Increment(ref _hits);
                    }

                    return new LruCache<TValue>.Lookup(LruCache<TValue>.LookupKind.Hit, entry.Value, null, null);
                }

                _cache.Remove(storeKey); // expired on the injected clock: a miss
            }

            if (count)
            {
                Interlocked.Increment(ref _misses);
            }

            var owned = new LruCache<TValue>.Node(key) { InFlight = true };
            _inFlight[key] = owned;
            return new LruCache<TValue>.Lookup(LruCache<TValue>.LookupKind.Owner, default, null, owned);
        }
    }

    public void Complete(LruCache<TValue>.Node node, TValue value, long size, long expiresAt, bool store)
    {
        TaskCompletionSource<TValue>? pending;
        lock (_lock)
        {
            pending = node.Pending;
            node.Pending = null;
            node.InFlight = false;
            RemoveInFlight(node);
            if (store)
            {
                var options = new MemoryCacheEntryOptions { Size = _entrySize(size) };
                if (_timeToLive is { } ttl)
                {
                    options.AbsoluteExpirationRelativeToNow = ttl;
                }

                options.RegisterPostEvictionCallback(_evicted, size);
                Interlocked.Increment(ref _count);
                Interlocked.Add(ref _bytes, size);
                _cache.Set(new StoreKey(_scope, node.Key), new Entry(value, expiresAt), options);
            }
        }

        pending?.TrySetResult(value);
    }

    public void Fail(LruCache<TValue>.Node node, Exception error)
    {
        TaskCompletionSource<TValue>? pending;
        lock (_lock)
        {
            pending = node.Pending;
            node.Pending = null;
            node.InFlight = false;
            RemoveInFlight(node);
        }

        pending?.TrySetException(error);
    }

    private void RemoveInFlight(LruCache<TValue>.Node node)
    {
        if (_inFlight.TryGetValue(node.Key, out var current) && ReferenceEquals(current, node))
        {
            _inFlight.Remove(node.Key);
        }
    }

    /// <summary>Every entry this store added is removed exactly once (replaced, removed, expired or evicted).</summary>
    private void OnEvicted(object key, object? value, EvictionReason reason, object? state)
    {
        Interlocked.Decrement(ref _count);
        Interlocked.Add(ref _bytes, -(long)state!);
        if (reason == EvictionReason.Capacity)
        {
            Interlocked.Increment(ref _evictions);
        }
    }

    /// <summary>A key in the app's cache: this store's scope and the prediction key.</summary>
    private readonly record struct StoreKey(object Scope, UInt128 Key);

    /// <summary>A completed entry and when it expires on the injected clock.</summary>
    private sealed record Entry(TValue Value, long ExpiresAt);
}
