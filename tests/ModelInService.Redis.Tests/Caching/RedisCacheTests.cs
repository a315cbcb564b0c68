using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelInService.Caching;
using ModelInService.Redis.Caching;
using ModelInService.Schema;
using StackExchange.Redis;

namespace ModelInService.Redis.Tests.Caching;

/// <summary>The L2 prediction cache against a real redis-server: replicas are hosts in this process sharing it.</summary>
[Collection(RedisTests.Name)]
public sealed class RedisCacheTests(RedisFixture redis)
{
    private async Task StartCleanAsync()
    {
        redis.SkipIfUnavailable();
        await redis.StartServerAsync();
        await redis.FlushAsync();
    }

    /// <summary>Makes Redis refuse every write (out of memory under noeviction) until disposed.</summary>
    private async Task<IAsyncDisposable> OutOfMemoryAsync()
    {
        var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        var policy = (await server.ConfigGetAsync("maxmemory-policy")).Single().Value;
        await server.ConfigSetAsync("maxmemory-policy", "noeviction");
        await server.ConfigSetAsync("maxmemory", "1");
        return new Restore(admin, server, policy);
    }

    private sealed class Restore(ConnectionMultiplexer admin, IServer server, string policy) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await server.ConfigSetAsync("maxmemory", "0");
            await server.ConfigSetAsync("maxmemory-policy", policy);
            await admin.DisposeAsync();
        }
    }

    [SkippableTheory]
    [InlineData("lru")]
    [InlineData("memory")]
    public async Task ValueComputedOnHostA_IsAHitOnHostB(string store)
    {
        await StartCleanAsync();
        await using var a = await Replica.StartAsync(redis, store: store);
        await using var b = await Replica.StartAsync(redis, store: store);

        var fromA = new[] { await a.PredictAsync(Iris.Setosa), await a.PredictAsync(Iris.Versicolor), await a.PredictAsync(Iris.Virginica) };
        await RedisKeys.WaitForAsync(redis, 3);
        var fromB = new[] { await b.PredictAsync(Iris.Setosa), await b.PredictAsync(Iris.Versicolor), await b.PredictAsync(Iris.Virginica) };
        var again = await b.PredictAsync(Iris.Setosa);

        Assert.Equal([0L, 1L, 2L], fromA.Select(o => o.Label));
        Assert.Equal(fromA.Select(o => o.Label), fromB.Select(o => o.Label));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(fromA[i].Probabilities, fromB[i].Probabilities); // bit for bit: raw little-endian floats
        }

        Assert.Equal(3, a.L2.Statistics.Misses);
        Assert.Equal(3, b.L2.Statistics.Hits);
        Assert.Equal(0, b.L2.Statistics.Misses);
        Assert.Equal(1, b.Local.Hits);            // the L2 hit was kept locally: the 4th request never left B
        Assert.Equal(3, b.L2.Statistics.Lookups);
        Assert.Equal(0, b.L2.Statistics.Written); // values read from the L2 are not written back
        Assert.NotSame(fromB[0].Probabilities, again.Probabilities);
    }

    [SkippableFact]
    public async Task AnotherModelFile_UnderTheSameName_NeverReadsTheOtherVersionsEntries()
    {
        await StartCleanAsync();
        await using var v1 = await Replica.StartAsync(redis, "iris_mlp.onnx");
        await using var v2 = await Replica.StartAsync(redis, "iris_mlp_fixed.onnx");
        await v1.PredictAsync(Iris.Setosa);
        var keys = await RedisKeys.WaitForAsync(redis, 1);

        // Plant a well-formed but wrong answer under v1's key: a v1 peer reads it (the key is what replicas share),
        // a v2 replica must not.
        var serializer = new OutputSerializer<IrisOutput>(new OutputCopier<IrisOutput>(() => new IrisOutput(), MemberModel.ForOutput(typeof(IrisOutput))));
        var input = UInt128.Parse(((string)keys[0]!).Split(':')[^1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!))
        {
            await connection.GetDatabase().StringSetAsync(keys[0], serializer.Serialize(new IrisOutput { Label = 99, Probabilities = [1, 0, 0] }, input));
        }

        await using var v1Peer = await Replica.StartAsync(redis, "iris_mlp.onnx");
        Assert.Equal(99, (await v1Peer.PredictAsync(Iris.Setosa)).Label);

        var answer = await v2.PredictAsync(Iris.Setosa);
        Assert.Equal(0, answer.Label);
        Assert.Equal(0, v2.L2.Statistics.Hits);
        Assert.Equal(1, v2.L2.Statistics.Misses);
        Assert.Equal(2, (await RedisKeys.WaitForAsync(redis, 2)).Length); // v2 wrote under its own key
    }

    [SkippableFact]
    public async Task Reload_ToAnotherFile_DoesNotAnswerFromTheOldVersionsEntries()
    {
        await StartCleanAsync();
        await using var a = await Replica.StartAsync(redis, "iris_mlp.onnx");
        await a.PredictAsync(Iris.Virginica);
        await RedisKeys.WaitForAsync(redis, 1);

        await a.Services.GetRequiredService<IModelManager>().ReloadAsync(ModelSource.FromFile(Iris.Model("iris_mlp_fixed.onnx")));
        var answer = await a.PredictAsync(Iris.Virginica);

        Assert.Equal(2, answer.Label);
        Assert.Equal(0, a.L2.Statistics.Hits);
        Assert.Equal(2, a.L2.Statistics.Misses);
        await RedisKeys.WaitForAsync(redis, 2);
    }

    [SkippableFact]
    public async Task CorruptOrMisplacedBytesInRedis_AreAMiss_NotACrash()
    {
        await StartCleanAsync();
        await using var a = await Replica.StartAsync(redis);
        await a.PredictAsync(Iris.Setosa);
        await a.PredictAsync(Iris.Virginica);
        var keys = await RedisKeys.WaitForAsync(redis, 2);

        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!))
        {
            var db = connection.GetDatabase();
            var first = (byte[])(await db.StringGetAsync(keys[0]))!;
            var second = (byte[])(await db.StringGetAsync(keys[1]))!;
            await db.StringSetAsync(keys[0], second);                    // a valid value under another input's key
            await db.StringSetAsync(keys[1], first.AsMemory(0, first.Length - 3)); // truncated
        }

        await using var b = await Replica.StartAsync(redis);
        Assert.Equal(0, (await b.PredictAsync(Iris.Setosa)).Label);
        Assert.Equal(2, (await b.PredictAsync(Iris.Virginica)).Label);
        Assert.Equal(2, b.L2.Statistics.Corrupt);
        Assert.Equal(0, b.L2.Statistics.Hits);
        Assert.Single(b.Logs.GetSnapshot(), r => r.Id.Id == 1663);

        // B recomputed and wrote the right values back over the bad ones: a third replica hits.
        await RedisKeys.WaitUntilAsync(() => b.L2.Statistics.Written == 2);
        await Task.Delay(100);
        await using var c = await Replica.StartAsync(redis);
        Assert.Equal(0, (await c.PredictAsync(Iris.Setosa)).Label);
        Assert.Equal(2, (await c.PredictAsync(Iris.Virginica)).Label);
        Assert.Equal(2, c.L2.Statistics.Hits);
    }

    [SkippableFact]
    public async Task Writes_Redis_refuses_are_counted_as_failed_and_logged_once()
    {
        await StartCleanAsync();
        await using var a = await Replica.StartAsync(redis);
        await using (await OutOfMemoryAsync())
        {
            // Every SET is refused (OOM): fire-and-forget writes counted all of them as written, and logged nothing.
            for (var i = 0; i < 10; i++)
            {
                await a.PredictAsync([4.5f + (i * 0.01f), 3.2f, 1.3f, 0.2f]);
            }

            await RedisKeys.WaitUntilAsync(() => a.L2.Statistics.FailedWrites == 10);
        }

        Assert.Equal(0, a.L2.Statistics.Written);
        Assert.Single(a.Logs.GetSnapshot(), r => r.Id.Id == 1664);
    }

    [SkippableFact]
    public async Task Readiness_reports_the_L2_cache_Degraded_while_Redis_is_down_or_refuses_writes()
    {
        await StartCleanAsync();
        await using var a = await Replica.StartAsync(redis, healthChecks: true);
        await a.PredictAsync(Iris.Setosa);
        await RedisKeys.WaitUntilAsync(() => a.L2.Statistics.Written == 1);
        var healthy = await a.CacheHealthAsync();
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(1L, healthy.Data["written"]);

        // Out of memory: every write is refused; the replica serves, readiness says so.
        await using (await OutOfMemoryAsync())
        {
            await a.PredictAsync(Iris.Versicolor);
            await RedisKeys.WaitUntilAsync(() => a.L2.Statistics.FailedWrites == 1);
            var refusing = await a.CacheHealthAsync();
            Assert.Equal(HealthStatus.Degraded, refusing.Status);
            Assert.Contains("refuses L2 cache writes", refusing.Description, StringComparison.Ordinal);
            Assert.Contains("OOM", refusing.Description, StringComparison.Ordinal);
        }

        // The next write succeeds: Healthy again.
        await a.PredictAsync(Iris.Virginica);
        await RedisKeys.WaitUntilAsync(() => a.L2.Statistics.Written == 2);
        Assert.Equal(HealthStatus.Healthy, (await a.CacheHealthAsync()).Status);

        await redis.StopServerAsync();
        try
        {
            await RedisKeys.WaitUntilAsync(() => !a.L2.GetState(TimeSpan.FromMinutes(1)).State.Equals(RedisCacheState.Healthy), seconds: 30);
            var down = await a.CacheHealthAsync();
            Assert.Equal(HealthStatus.Degraded, down.Status);
            Assert.Contains("unreachable", down.Description, StringComparison.Ordinal);
            Assert.Equal(0, (await a.PredictAsync(Iris.Setosa)).Label); // still answered
        }
        finally
        {
            await redis.StartServerAsync();
        }

        await RedisKeys.WaitUntilAsync(() => a.L2.GetState(TimeSpan.FromMinutes(1)).State == RedisCacheState.Healthy, seconds: 30);
        Assert.Equal(HealthStatus.Healthy, (await a.CacheHealthAsync()).Status);
    }

    [SkippableFact]
    public async Task RedisStopped_EveryRequestIsAnswered_AndTheOutageIsLoggedOnce()
    {
        await StartCleanAsync();
        await using var a = await Replica.StartAsync(redis);
        await a.PredictAsync(Iris.Setosa);
        await RedisKeys.WaitForAsync(redis, 1);

        await redis.StopServerAsync();
        IrisOutput[] answers;
        var failed = 0;
        try
        {
            var requests = Enumerable.Range(0, 400).Select(async i =>
            {
                try
                {
                    return await a.PredictAsync([4.5f + (i % 100 * 0.005f), 3.2f, 1.3f, 0.2f]);
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref failed);
                    throw;
                }
            }).ToArray();
            answers = await Task.WhenAll(requests);
        }
        finally
        {
            await redis.StartServerAsync();
        }

        Assert.Equal(0, failed);
        Assert.All(answers, o => Assert.Equal(0, o.Label));
        Assert.Equal(1, a.L2.Statistics.Outages);
        Assert.True(a.L2.Statistics.Unavailable + a.L2.Statistics.Errors + a.L2.Statistics.Timeouts > 0);
        Assert.Single(a.Logs.GetSnapshot(), r => r.Id.Id == 1661);

        // Redis is back (empty): the multiplexer reconnects, lookups answer again and the return is logged.
        var misses = a.L2.Statistics.Misses;
        var next = 0;
        await RedisKeys.WaitUntilAsync(() =>
        {
            a.PredictAsync([7.0f, 3.2f, 4.7f + (Interlocked.Increment(ref next) * 0.001f), 1.4f]).GetAwaiter().GetResult();
            return a.L2.Statistics.Misses > misses;
        }, seconds: 30);
        Assert.Single(a.Logs.GetSnapshot(), r => r.Id.Id == 1662);
        Assert.Equal(1, a.L2.Statistics.Outages);
    }

    [SkippableFact]
    public async Task SlowRedis_IsAMissAfterTheLookupTimeout()
    {
        await StartCleanAsync();
        await using var a = await Replica.StartAsync(redis, configure: o => o.LookupTimeout = TimeSpan.FromMilliseconds(20));
        await a.PredictAsync(Iris.Setosa); // connected and warm

        // A script that keeps the single-threaded server busy for 400 ms: A's GET waits behind it.
        await using var other = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var busy = other.GetDatabase().ScriptEvaluateAsync(
            "local s = redis.call('TIME') local t0 = s[1] * 1000000 + s[2] repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - t0 > 400000 return 1");
        await Task.Delay(50);

        var watch = Stopwatch.StartNew();
        var answer = await a.PredictAsync(Iris.Versicolor);
        watch.Stop();

        Assert.Equal(1, answer.Label);
        Assert.True(a.L2.Statistics.Timeouts == 1, a.L2.Statistics.ToString());
        Assert.True(watch.ElapsedMilliseconds < 800, $"took {watch.ElapsedMilliseconds} ms");
        Assert.Equal(0, a.L2.Statistics.Outages); // slow is not down
        await busy;
    }

    [SkippableFact]
    public async Task TimeToLive_IsHonouredByRedis()
    {
        await StartCleanAsync();
        await using var a = await Replica.StartAsync(redis, configure: o => o.TimeToLive = TimeSpan.FromSeconds(1));
        await a.PredictAsync(Iris.Setosa);
        var keys = await RedisKeys.WaitForAsync(redis, 1);
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!))
        {
            var ttl = await connection.GetDatabase().KeyTimeToLiveAsync(keys[0]);
            Assert.InRange(ttl!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1));
        }

        await RedisKeys.WaitUntilAsync(() => RedisKeys.ListAsync(redis).GetAwaiter().GetResult().Length == 0, seconds: 5);
        await using var b = await Replica.StartAsync(redis);
        Assert.Equal(0, (await b.PredictAsync(Iris.Setosa)).Label);
        Assert.Equal(0, b.L2.Statistics.Hits);
        Assert.Equal(1, b.L2.Statistics.Misses);
    }

    [SkippableFact]
    public async Task FullWriteQueue_DropsWrites_AndCountsThem()
    {
        await StartCleanAsync();
        await using var a = await Replica.StartAsync(redis, configure: o => o.WriteQueueCapacity = 1);
        var answers = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => a.PredictAsync([4.5f + (i * 0.001f), 3.2f, 1.3f, 0.2f])));

        Assert.All(answers, o => Assert.Equal(0, o.Label));
        await RedisKeys.WaitUntilAsync(() => a.L2.Statistics.Written + a.L2.Statistics.Dropped == 300);
        Assert.True(a.L2.Statistics.Written > 0);
    }

    [SkippableFact]
    public async Task EntriesLargerThanMaxEntryBytes_StayLocal_AndAreCounted()
    {
        await StartCleanAsync();
        var options = new RedisCacheOptions { Configuration = redis.Configuration, MaxEntryBytes = 64 };
        await using var store = new RedisSharedCacheStore("iris", options, null, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, null);
        await store.Connecting;

        store.Enqueue(new FixedWrite(new SharedCacheKey("iris", "hash", 1, 1), 65));   // one byte over the budget
        store.Enqueue(new FixedWrite(new SharedCacheKey("iris", "hash", 1, 2), 64));   // exactly the budget

        await RedisKeys.WaitUntilAsync(() => store.Statistics.Written + store.Statistics.TooLarge == 2);
        Assert.Equal(1, store.Statistics.TooLarge);
        Assert.Equal(1, store.Statistics.Written);
        var keys = await RedisKeys.WaitForAsync(redis, 1);
        Assert.EndsWith(":" + ((UInt128)2).ToString("x32", CultureInfo.InvariantCulture), (string)keys[0]!, StringComparison.Ordinal);
    }

    private sealed class FixedWrite(SharedCacheKey key, int length) : SharedCacheWrite(key)
    {
        public override byte[] Serialize() => new byte[length];
    }

    [SkippableFact]
    public async Task InvalidOptions_FailAtStart_AndUseRedisCacheNeedsUseCaching()
    {
        redis.SkipIfUnavailable();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(Iris.Model("iris_mlp.onnx")))
            .UseCaching().UseRedisCache(o => o.LookupTimeout = TimeSpan.Zero);
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("LookupTimeout", error.Message, StringComparison.Ordinal);

        var services = new ServiceCollection();
        Assert.Throws<InvalidOperationException>(() => services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(Iris.Model("iris_mlp.onnx"))).UseRedisCache());
    }

    [Fact]
    public void UseRedisCache_twice_adds_up_the_configuration_and_registers_one_store_and_one_readiness_check()
    {
        var services = new ServiceCollection();
        services.AddHealthChecks();
        services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(Iris.Model("iris_mlp.onnx")))
            .UseCaching()
            .UseRedisCache(o => o.Configuration = "localhost:1,abortConnect=false")
            .UseRedisCache(o => o.LookupTimeout = TimeSpan.FromMilliseconds(77));
        using var provider = services.BuildServiceProvider();

        Assert.Single(services, d => d.IsKeyedService && d.ServiceType == typeof(ISharedCacheStore));
        var registrations = provider.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;
        Assert.Single(registrations, r => r.Name == "redis-cache:iris" && r.Tags.Contains("ready"));
        var options = provider.GetRequiredService<IOptionsMonitor<RedisCacheOptions>>().Get("iris");
        Assert.Equal("localhost:1,abortConnect=false", options.Configuration);
        Assert.Equal(TimeSpan.FromMilliseconds(77), options.LookupTimeout);
    }
}
