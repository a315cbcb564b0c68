using FsCheck;
using FsCheck.Fluent;
using ModelInService.Caching;

namespace ModelInService.Tests.Caching;

/// <summary>
/// For random single-threaded sequences of lookups and stores, the cache's hits, misses, evictions, entry count,
/// bytes and contents match a plain reference LRU (a list ordered by recency) with the same budgets.
/// </summary>
public class LruCacheProperties
{
    public sealed record Op(int Key, int Size, bool Store);

    /// <summary>The obviously correct model: a list, most recent first.</summary>
    private sealed class ReferenceLru(int maxEntries, long maxBytes)
    {
        private readonly List<(int Key, int Size)> _items = [];

        public long Hits { get; private set; }

        public long Misses { get; private set; }

        public long Evictions { get; private set; }

        public IEnumerable<int> Keys => _items.Select(i => i.Key);

        public long Bytes => _items.Sum(i => (long)i.Size);

        public bool Get(int key)
        {
            var index = _items.FindIndex(i => i.Key == key);
            if (index < 0)
            {
                Misses++;
                return false;
            }

            var item = _items[index];
            _items.RemoveAt(index);
            _items.Insert(0, item);
            Hits++;
            return true;
        }

        public void Put(int key, int size, bool store)
        {
            if (!store || size > maxBytes)
            {
                return;
            }

            _items.Insert(0, (key, size));
            while (_items.Count > maxEntries || Bytes > maxBytes)
            {
                _items.RemoveAt(_items.Count - 1);
                Evictions++;
            }
        }
    }

    [Fact]
    public void MatchesReferenceLru_OverRandomOperationSequences()
    {
        var gen = from maxEntries in Gen.Choose(1, 8)
                  from maxBytes in Gen.Choose(10, 200)
                  from ops in Gen.ArrayOf(from key in Gen.Choose(0, 12)
                                          from size in Gen.Choose(1, 80)
                                          from store in Gen.Frequency((9, Gen.Constant(true)), (1, Gen.Constant(false)))
                                          select new Op(key, size, store))
                  select (maxEntries, maxBytes, ops);

        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var cache = new LruCache<int>(t.maxEntries, t.maxBytes);
            var reference = new ReferenceLru(t.maxEntries, t.maxBytes);
            foreach (var op in t.ops)
            {
                var lookup = cache.Find((UInt128)op.Key, now: 0);
                var hit = reference.Get(op.Key);
                if ((lookup.Kind == LruCache<int>.LookupKind.Hit) != hit)
                {
                    return false;
                }

                if (lookup.Kind == LruCache<int>.LookupKind.Hit)
                {
                    if (lookup.Value != op.Key * 7)
                    {
                        return false; // another key's value
                    }

                    continue;
                }

                cache.Complete(lookup.Owned!, op.Key * 7, op.Size, long.MaxValue, op.Store);
                reference.Put(op.Key, op.Size, op.Store);
            }

            var keys = reference.Keys.ToHashSet();
            var contentsMatch = Enumerable.Range(0, 13).All(k =>
            {
                var present = cache.Find((UInt128)k, 0);
                var expected = keys.Contains(k);
                if (present.Kind == LruCache<int>.LookupKind.Owner)
                {
                    cache.Fail(present.Owned!, new InvalidOperationException("probe"));
                }

                return (present.Kind == LruCache<int>.LookupKind.Hit) == expected;
            });

            return cache.Hits - keys.Count == reference.Hits
                && cache.Misses - (13 - keys.Count) == reference.Misses
                && cache.Evictions == reference.Evictions
                && cache.Count == keys.Count
                && cache.Bytes == reference.Bytes
                && contentsMatch;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(500));
    }

    [Fact]
    public void ExpiredEntry_IsAMiss()
    {
        var cache = new LruCache<int>(10, 1000);
        var owned = cache.Find(1, now: 0).Owned!;
        cache.Complete(owned, 42, 10, expiresAt: 100, store: true);

        Assert.Equal(LruCache<int>.LookupKind.Hit, cache.Find(1, now: 99).Kind);
        var expired = cache.Find(1, now: 100);
        Assert.Equal(LruCache<int>.LookupKind.Owner, expired.Kind);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task InFlightEntry_IsJoined_AndFailureIsNotStored()
    {
        var cache = new LruCache<int>(10, 1000);
        var owner = cache.Find(5, 0);
        var joiner = cache.Find(5, 0);
        Assert.Equal(LruCache<int>.LookupKind.Join, joiner.Kind);

        cache.Fail(owner.Owned!, new InvalidOperationException("model failed"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => joiner.Shared!);
        Assert.Equal(LruCache<int>.LookupKind.Owner, cache.Find(5, 0).Kind); // not cached: computed again
        Assert.Equal(1, cache.Joins);
    }
}
