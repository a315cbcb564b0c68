using BenchmarkDotNet.Attributes;
using BitFaster.Caching.Lru;
using Microsoft.Extensions.Caching.Memory;
using ModelInService.Caching;

namespace ModelInService.Caching.Benchmarks;

/// <summary>
/// Hit latency: the whole <c>PredictAsync</c> hit path (validate, hash, LRU hit, private copy) against the uncached
/// prediction (baseline), and the bare lookup of our exact LRU against Microsoft.Extensions.Caching.Memory and
/// BitFaster's ConcurrentLru with the same 128-bit key.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class CacheHitBenchmarks
{
    private Microsoft.Extensions.DependencyInjection.ServiceProvider _cachedProvider = null!;
    private Microsoft.Extensions.DependencyInjection.ServiceProvider _plainProvider = null!;
    private IPredictor<IrisInput, IrisOutput> _cached = null!;
    private IPredictor<IrisInput, IrisOutput> _plain = null!;
    private readonly IrisInput _input = Iris.Input(42);
    private LruCache<IrisOutput> _lru = null!;
    private MemoryCache _memoryCache = null!;
    private ConcurrentLru<UInt128, IrisOutput> _bitFaster = null!;
    private readonly UInt128 _key = new(0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321);

    [GlobalSetup]
    public void Setup()
    {
        (_cachedProvider, _cached) = Iris.StartAsync(cache: true, batching: false).GetAwaiter().GetResult();
        (_plainProvider, _plain) = Iris.StartAsync(cache: false, batching: false).GetAwaiter().GetResult();
        _cached.PredictAsync(_input).AsTask().GetAwaiter().GetResult(); // warm the entry

        var output = new IrisOutput { Label = 1, Probabilities = [0.1f, 0.8f, 0.1f] };
        _lru = new LruCache<IrisOutput>(10_000, long.MaxValue);
        var owned = _lru.Find(_key, 0).Owned!;
        _lru.Complete(owned, output, 100, long.MaxValue, store: true);
        _memoryCache = new MemoryCache(new MemoryCacheOptions { SizeLimit = 10_000 });
        _memoryCache.Set(_key, output, new MemoryCacheEntryOptions { Size = 1 });
        _bitFaster = new ConcurrentLru<UInt128, IrisOutput>(10_000);
        _bitFaster.AddOrUpdate(_key, output);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cachedProvider.Dispose();
        _plainProvider.Dispose();
        _memoryCache.Dispose();
    }

    [Benchmark(Baseline = true, Description = "PredictAsync, no cache (runs the model)")]
    public IrisOutput PredictUncached() => Complete(_plain.PredictAsync(_input));

    [Benchmark(Description = "PredictAsync, cache hit")]
    public IrisOutput PredictCacheHit() => Complete(_cached.PredictAsync(_input));

    private static IrisOutput Complete(ValueTask<IrisOutput> pending) =>
        pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    [Benchmark(Description = "lookup: ModelInService exact LRU")]
    public IrisOutput? LruHit() => _lru.Find(_key, 0).Value;

    [Benchmark(Description = "lookup: Microsoft.Extensions.Caching.Memory")]
    public IrisOutput? MemoryCacheHit() => _memoryCache.TryGetValue(_key, out IrisOutput? value) ? value : null;

    [Benchmark(Description = "lookup: BitFaster ConcurrentLru")]
    public IrisOutput? BitFasterHit() => _bitFaster.TryGet(_key, out var value) ? value : null;
}
