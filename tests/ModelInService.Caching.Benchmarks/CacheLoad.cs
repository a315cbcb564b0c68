using System.Diagnostics;
using System.Globalization;
using BitFaster.Caching.Lru;
using Microsoft.Extensions.Caching.Memory;
using ModelInService.Caching;

namespace ModelInService.Caching.Benchmarks;

/// <summary>
/// <c>cache</c> mode: (1) hit rate of the three caches on a Zipf(1.0) stream over 100k keys with capacity 10k
/// (single thread; the exact LRU is the reference for "eviction accuracy"); (2) served throughput through
/// IPredictor with 64 concurrent callers: no cache vs cache on 100% unique inputs vs cache on the Zipf stream.
/// </summary>
internal static class CacheLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        const int keys = 100_000, capacity = 10_000, stream = 1_000_000, callers = 64;
        var zipf = new Zipf(keys, 1.0, seed: 7);
        var sequence = new int[stream];
        for (var i = 0; i < stream; i++)
        {
            sequence[i] = zipf.Next();
        }

        Console.WriteLine($"Cache comparison: Zipf(1.0) over {keys:N0} keys, capacity {capacity:N0}, {stream:N0} lookups; {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        Console.WriteLine();
        Console.WriteLine("| cache | hit rate | vs exact LRU |");
        Console.WriteLine("|---|---|---|");
        var exact = HitRateExact(sequence, capacity);
        Console.WriteLine($"| ModelInService exact LRU | {exact:P2} | 1.000 |");
        var bitFaster = HitRateBitFaster(sequence, capacity);
        Console.WriteLine($"| BitFaster ConcurrentLru (pseudo-LRU) | {bitFaster:P2} | {bitFaster / exact:0.000} |");
        var memory = HitRateMemoryCache(sequence, capacity);
        Console.WriteLine($"| Microsoft.Extensions.Caching.Memory (SizeLimit, compaction) | {memory:P2} | {memory / exact:0.000} |");

        Console.WriteLine();
        Console.WriteLine($"Served throughput, {callers} callers, {seconds:0.#} s each, generated iris MLP with batching (MaxBatchSize 64, MaxDelay 1 ms):");
        Console.WriteLine();
        Console.WriteLine("| mode | items/s | vs no cache |");
        Console.WriteLine("|---|---|---|");
        // Warm-up (JIT tiers, thread pool growth) so the first measured mode is not penalized.
        await ThroughputAsync(cache: false, callers, seconds, unique: true, sequence);
        await ThroughputAsync(cache: true, callers, seconds / 2, unique: false, sequence);
        var baseline = await ThroughputAsync(cache: false, callers, seconds, unique: true, sequence);
        Console.WriteLine($"| no cache, unique inputs | {baseline:N0} | 1.00x |");
        var unique = await ThroughputAsync(cache: true, callers, seconds, unique: true, sequence);
        Console.WriteLine($"| cache on, 100% unique inputs | {unique:N0} | {unique / baseline:0.00}x |");
        var noCacheZipf = await ThroughputAsync(cache: false, callers, seconds, unique: false, sequence);
        Console.WriteLine($"| no cache, Zipf inputs | {noCacheZipf:N0} | {noCacheZipf / baseline:0.00}x |");
        var zipfCached = await ThroughputAsync(cache: true, callers, seconds, unique: false, sequence);
        Console.WriteLine($"| cache on, Zipf inputs (capacity 10k) | {zipfCached:N0} | {zipfCached / baseline:0.00}x |");
        return 0;
    }

    private static double HitRateExact(int[] sequence, int capacity)
    {
        var lru = new LruCache<int>(capacity, long.MaxValue);
        foreach (var key in sequence)
        {
            var lookup = lru.Find((UInt128)key, 0);
            if (lookup.Kind == LruCache<int>.LookupKind.Owner)
            {
                lru.Complete(lookup.Owned!, key, 1, long.MaxValue, store: true);
            }
        }

        return lru.Hits / (double)sequence.Length;
    }

    private static double HitRateBitFaster(int[] sequence, int capacity)
    {
        var lru = new ConcurrentLru<UInt128, int>(capacity);
        long hits = 0;
        foreach (var key in sequence)
        {
            if (lru.TryGet((UInt128)key, out _))
            {
                hits++;
            }
            else
            {
                lru.AddOrUpdate((UInt128)key, key);
            }
        }

        return hits / (double)sequence.Length;
    }

    private static double HitRateMemoryCache(int[] sequence, int capacity)
    {
        using var cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = capacity, CompactionPercentage = 0.05 });
        long hits = 0;
        var options = new MemoryCacheEntryOptions { Size = 1 };
        foreach (var key in sequence)
        {
            if (cache.TryGetValue((UInt128)key, out _))
            {
                hits++;
            }
            else
            {
                cache.Set((UInt128)key, key, options);
            }
        }

        return hits / (double)sequence.Length;
    }

    private static async Task<double> ThroughputAsync(bool cache, int callers, double seconds, bool unique, int[] sequence)
    {
        var (provider, predictor) = await Iris.StartAsync(cache);
        await using var _ = provider;
        long next = unique ? 10_000_000 : 0;
        var inputs = unique ? null : Array.ConvertAll(Enumerable.Range(0, 100_000).ToArray(), i => Iris.Input(i));
        var end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        long done = 0;
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async c =>
        {
            await Task.Yield();
            long local = 0;
            while (Stopwatch.GetTimestamp() < end)
            {
                var i = Interlocked.Increment(ref next);
                var input = unique ? Iris.Input(i) : inputs![sequence[i % sequence.Length]];
                await predictor.PredictAsync(input);
                local++;
            }

            Interlocked.Add(ref done, local);
        }));
        return done / seconds;
    }

    /// <summary>Zipf(s) over 0..n-1 by inverse CDF on precomputed cumulative weights.</summary>
    private sealed class Zipf
    {
        private readonly double[] _cdf;
        private readonly Random _random;

        public Zipf(int n, double s, int seed)
        {
            _random = new Random(seed);
            _cdf = new double[n];
            double sum = 0;
            for (var i = 0; i < n; i++)
            {
                sum += 1.0 / Math.Pow(i + 1, s);
                _cdf[i] = sum;
            }

            for (var i = 0; i < n; i++)
            {
                _cdf[i] /= sum;
            }
        }

        public int Next()
        {
            var u = _random.NextDouble();
            var index = Array.BinarySearch(_cdf, u);
            return index >= 0 ? index : Math.Min(~index, _cdf.Length - 1);
        }
    }
}
