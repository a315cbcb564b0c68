using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Schema;
using ModelInService.Caching;
using ModelInService.Hosting;
using ModelInService.Sessions;

namespace ModelInService.Tests.Caching;

/// <summary>
/// The cache's correctness tests, run over each local store: "lru" (the built-in exact LRU, the default) and "memory"
/// (the app's IMemoryCache, <c>UseMemoryCache</c>). The Redis L2 behind either runs the cross-host versions of these in
/// ModelInService.Redis.Tests.
/// </summary>
public class PredictionCacheTests
{
    /// <summary>A store for the tests that build the cache stage directly.</summary>
    internal static ICacheStore<IrisOutput> Store(string kind) => kind == "memory"
        ? new MemoryCacheStore<IrisOutput>(new MemoryCache(new MemoryCacheOptions()), null, null)
        : new LruCache<IrisOutput>(10_000, 64L * 1024 * 1024);

    private static async Task<(IHostLike Host, IPredictor<IrisInput, IrisOutput> Predictor, ICacheCounters Stats)> StartAsync(Action<CachingOptions>? configure = null, bool batching = false, TimeProvider? time = null, string store = "lru")
    {
        var host = await TestModels.StartAsync(s =>
        {
            if (time is not null)
            {
                s.AddSingleton(time);
            }

            var builder = s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp).UseCaching(configure);
            if (store == "memory")
            {
                builder.UseMemoryCache();
            }

            if (batching)
            {
                builder.UseBatching();
            }
        });
        var stats = host.Services.GetRequiredService<ModelRegistry>().Get("iris_mlp").Features.Cache!.Statistics;
        return (new IHostLike(host), host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>(), stats);
    }

    /// <summary>Disposes the host at the end of a test.</summary>
    private sealed class IHostLike(Microsoft.Extensions.Hosting.IHost host) : IDisposable
    {
        public IServiceProvider Services => host.Services;

        public void Dispose() => host.Dispose();
    }

    [Theory]
    [InlineData(false, "lru")]
    [InlineData(true, "lru")]
    [InlineData(false, "memory")]
    [InlineData(true, "memory")]
    public async Task RepeatedInput_IsAHit_WithTheSameAnswer(bool batching, string store)
    {
        var (host, predictor, stats) = await StartAsync(batching: batching, store: store);
        using var _ = host;

        var first = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica });
        var second = await predictor.PredictAsync(new IrisInput { Features = [.. IrisSamples.Virginica] });
        var other = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.Equal(2, first.Label);
        Assert.Equal(first.Label, second.Label);
        Assert.Equal(first.Probabilities, second.Probabilities);
        Assert.Equal(0, other.Label);
        Assert.Equal(1, stats.Hits);
        Assert.Equal(2, stats.Misses);
        Assert.Equal(2, stats.Count);
        Assert.True(stats.Bytes > 0);
    }

    [Theory]
    [InlineData("lru")]
    [InlineData("memory")]
    public async Task CallerMutatingItsAnswer_CannotCorruptTheCache(string store)
    {
        var (host, predictor, _) = await StartAsync(store: store);
        using var _ = host;
        var first = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        var expected = first.Probabilities.ToArray();

        first.Probabilities[0] = -1;
        first.Label = 99;
        var second = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        second.Probabilities[1] = -2;
        var third = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.Equal(0, third.Label);
        Assert.Equal(expected, third.Probabilities);
        Assert.NotSame(second, third);
        Assert.NotSame(second.Probabilities, third.Probabilities);
    }

    [Theory]
    [InlineData("lru")]
    [InlineData("memory")]
    public async Task InvalidInput_StillGetsTheValidationError(string store)
    {
        var (host, predictor, stats) = await StartAsync(store: store);
        using var _ = host;
        await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(new IrisInput { Features = [1, float.NaN, 3, 4] }));
        await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(new IrisInput { Features = [1, float.NaN, 3, 4] }));
        Assert.Equal(0, stats.Hits + stats.Misses);
    }

    [Fact]
    public async Task EntryBudget_EvictsLeastRecentlyUsed()
    {
        var (host, predictor, stats) = await StartAsync(o => o.MaxEntries = 2);
        using var _ = host;
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Versicolor });
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });    // Setosa is now most recent
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }); // evicts Versicolor

        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        Assert.Equal(2, stats.Hits);
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Versicolor });
        Assert.Equal(2, stats.Hits);
        Assert.Equal(2, stats.Evictions);
        Assert.Equal(2, stats.Count);
    }

    [Theory]
    [InlineData("lru")]
    [InlineData("memory")]
    public async Task TimeToLive_ExpiresEntriesOnTheInjectedClock(string store)
    {
        var time = new FakeTimeProvider();
        var (host, predictor, stats) = await StartAsync(o => o.TimeToLive = TimeSpan.FromMinutes(1), time: time, store: store);
        using var _ = host;
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        time.Advance(TimeSpan.FromSeconds(59));
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        time.Advance(TimeSpan.FromSeconds(1));
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.Equal(1, stats.Hits);
        Assert.Equal(2, stats.Misses);
    }

    [Theory]
    [InlineData("lru")]
    [InlineData("memory")]
    public async Task Filters_OptInputsOutAndKeepOutputsOut(string store)
    {
        var (host, predictor, stats) = await StartAsync(store: store, configure: o =>
        {
            o.CacheInput = i => ((IrisInput)i).Features[0] != 6.7f;      // Virginica sample bypasses the cache
            o.CacheOutput = r => ((IrisOutput)r).Label != 1;             // versicolor answers are not stored
        });
        using var _ = host;
        for (var i = 0; i < 2; i++)
        {
            await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica });
            await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Versicolor });
            await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        }

        Assert.Equal(1, stats.Hits);   // Setosa the second time
        Assert.Equal(3, stats.Misses); // Versicolor twice, Setosa once; Virginica never looked up
        Assert.Equal(1, stats.Count);
    }

    [Theory]
    [InlineData("lru")]
    [InlineData("memory")]
    public async Task IdenticalConcurrentRequests_ShareOneComputation(string store)
    {
        var (host, _, _) = await StartAsync();
        using var _ = host;
        var modelHost = host.Services.GetRequiredService<ModelRegistry>().Get("iris_mlp");
        var runtime = modelHost.Runtime;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        async ValueTask<IrisOutput> Compute(IrisInput input, PredictionOptions? options, CancellationToken ct)
        {
            Interlocked.Increment(ref calls);
            await gate.Task;
            return new IrisOutput { Label = 7, Probabilities = [0.1f, 0.2f, 0.7f] };
        }

        var cache = new PredictionCache<IrisInput, IrisOutput>(new ComputeStage<IrisInput, IrisOutput>(Compute), new CachingOptions(), TimeProvider.System, Store(store), null);
        var serving = Serving<IrisInput, IrisOutput>.Of(runtime);

        var callers = Enumerable.Range(0, 32).Select(_ => cache.PredictAsync(serving, new IrisInput { Features = IrisSamples.Setosa }, null, default).AsTask()).ToArray();
        gate.SetResult();
        var results = await Task.WhenAll(callers);

        Assert.Equal(1, calls);
        Assert.All(results, r => Assert.Equal(7, r.Label));
        Assert.Equal(32, results.Select(r => r.Probabilities).Distinct().Count()); // everyone got a private copy
        Assert.Equal(31, cache.Statistics.Joins);
    }

    [Theory]
    [InlineData("lru")]
    [InlineData("memory")]
    public async Task OwnerCanceled_JoinersComputeAgain_AndSucceed(string store)
    {
        var (host, _, _) = await StartAsync();
        using var _ = host;
        var modelHost = host.Services.GetRequiredService<ModelRegistry>().Get("iris_mlp");
        var runtime = modelHost.Runtime;
        var calls = 0;
        async ValueTask<IrisOutput> Compute(IrisInput input, PredictionOptions? options, CancellationToken ct)
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await Task.Delay(Timeout.Infinite, ct); // the owner waits until its caller cancels
            }

            return new IrisOutput { Label = 3 };
        }

        var cache = new PredictionCache<IrisInput, IrisOutput>(new ComputeStage<IrisInput, IrisOutput>(Compute), new CachingOptions(), TimeProvider.System, Store(store), null);
        var serving = Serving<IrisInput, IrisOutput>.Of(runtime);

        using var cts = new CancellationTokenSource();
        var owner = cache.PredictAsync(serving, new IrisInput { Features = IrisSamples.Setosa }, null, cts.Token).AsTask();
        var joiner = cache.PredictAsync(serving, new IrisInput { Features = IrisSamples.Setosa }, null, default).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => owner);
        Assert.Equal(3, (await joiner).Label);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task DifferentModelVersions_NeverShareEntries()
    {
        var (host, _, _) = await StartAsync();
        using var _ = host;
        var runtime = host.Services.GetRequiredService<ModelRegistry>().Get("iris_mlp").Runtime;
        var binder = (TypedBinder<IrisInput, IrisOutput>)runtime.Binder!;
        var input = new IrisInput { Features = IrisSamples.Setosa };

        Assert.Equal(binder.ComputeKey(input, 1), binder.ComputeKey(new IrisInput { Features = [.. IrisSamples.Setosa] }, 1));
        Assert.NotEqual(binder.ComputeKey(input, 1), binder.ComputeKey(input, 2));
        Assert.NotEqual(binder.ComputeKey(input, 1), binder.ComputeKey(new IrisInput { Features = IrisSamples.Versicolor }, 1));
    }

    [Theory]
    [InlineData("lru")]
    [InlineData("memory")]
    public async Task UniqueInputs_MakeTheCacheStepAside_AndRepeatsBringItBack(string store)
    {
        var (host, predictor, stats) = await StartAsync(store: store);
        using var _ = host;
        var cache = host.Services.GetRequiredService<ModelRegistry>().Get("iris_mlp").Features.Cache!;
        for (var i = 0; i < 1100; i++)
        {
            await predictor.PredictAsync(new IrisInput { Features = [4 + (i * 0.001f), 3, 1, 0.2f] });
        }

        Assert.True(cache.IsBypassing);
        Assert.True(cache.Bypassed > 0);

        var repeated = new IrisInput { Features = IrisSamples.Setosa };
        for (var i = 0; i < 20_000 && cache.IsBypassing; i++)
        {
            Assert.Equal(0, (await predictor.PredictAsync(repeated)).Label);
        }

        Assert.False(cache.IsBypassing);
        var bypassed = cache.Bypassed;
        await predictor.PredictAsync(repeated);
        Assert.Equal(bypassed, cache.Bypassed);
        Assert.True(stats.Hits > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MemoryCacheStore_SharesTheAppsCache_WithSizesInBytesOrTheAppsUnit(bool countEntries)
    {
        var app = new MemoryCache(new MemoryCacheOptions { SizeLimit = 1_000_000, TrackStatistics = true });
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddSingleton<IMemoryCache>(app);
            s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp).UseCaching().UseMemoryCache(countEntries ? _ => 1 : null);
        });
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var stats = host.Services.GetRequiredService<ModelRegistry>().Get("iris_mlp").Features.Cache!.Statistics;
        app.Set("the app's own entry", "value", new MemoryCacheEntryOptions { Size = 10 });

        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Versicolor });
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.Same(app, host.Services.GetRequiredService<IMemoryCache>());
        Assert.Equal(1, stats.Hits);
        Assert.Equal(2, stats.Count);
        Assert.Equal(3, app.GetCurrentStatistics()!.CurrentEntryCount);
        Assert.Equal(10 + (countEntries ? 2 : stats.Bytes), app.GetCurrentStatistics()!.CurrentEstimatedSize);

        app.Compact(1.0); // the app's compaction removes the model's entries too
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        Assert.Equal(1, stats.Hits);
        for (var i = 0; i < 200 && stats.Evictions < 2; i++)
        {
            await Task.Delay(10); // the app's cache runs eviction callbacks in the background
        }

        Assert.True(stats.Evictions >= 2);
    }

    [Fact]
    public void UseMemoryCache_WithoutUseCaching_Throws()
    {
        var services = new ServiceCollection();
        Assert.Throws<InvalidOperationException>(() => services.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp).UseMemoryCache());
    }

    [Fact]
    public void UseCaching_OnAnUntypedModel_Throws()
    {
        var services = new ServiceCollection();
        Assert.Throws<InvalidOperationException>(() => services.AddModel("raw", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).UseCaching());
    }
}

/// <summary>A terminal stage that answers with a delegate (the cache's next stage in the single-flight tests).</summary>
internal sealed class ComputeStage<TInput, TOutput>(Func<TInput, PredictionOptions?, CancellationToken, ValueTask<TOutput>> compute) : PredictionStage<TInput, TOutput>
{
    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken) =>
        compute(input, options, cancellationToken);
}

/// <summary>An output type whose instances cannot change: the cache hands out the stored instance.</summary>
public sealed class IrisScores
{
    [ModelOutput("label")]
    public long Label { get; init; }

    [ModelOutput("probabilities", Order = 0)]
    public float Setosa { get; init; }

    [ModelOutput("probabilities", Order = 1)]
    public float Versicolor { get; init; }

    [ModelOutput("probabilities", Order = 2)]
    public float Virginica { get; init; }
}

public sealed class ImmutableOutputCacheTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ImmutableOutput_IsHandedOutWithoutACopy(bool batching)
    {
        using var host = await TestModels.StartAsync(s =>
        {
            var builder = s.AddModel<IrisInput, IrisScores>(TestModels.IrisMlp).UseCaching();
            if (batching)
            {
                builder.UseBatching();
            }
        });
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisScores>>();

        var first = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica });
        var second = await predictor.PredictAsync(new IrisInput { Features = [.. IrisSamples.Virginica] });
        var other = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.True(OutputCopier<IrisScores>.IsImmutable);
        Assert.Equal(2, first.Label);
        Assert.True(first.Virginica > first.Setosa);
        Assert.Same(first, second);
        Assert.NotSame(first, other);
        Assert.Equal(0, other.Label);
        var stats = host.Services.GetRequiredService<ModelRegistry>().Get("iris_mlp").Features.Cache!.Statistics;
        Assert.Equal(1, stats.Hits);
    }
}
