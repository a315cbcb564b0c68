using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ModelInService.Caching;
using ModelInService.Hosting;
using ModelInService.Redis.Caching;
using StackExchange.Redis;

namespace ModelInService.Redis.Tests.Caching;

internal static class Iris
{
    public static readonly float[] Setosa = [5.1f, 3.5f, 1.4f, 0.2f];
    public static readonly float[] Versicolor = [6.0f, 2.9f, 4.5f, 1.5f];
    public static readonly float[] Virginica = [6.7f, 3.1f, 5.6f, 2.4f];

    public static string Model(string file) => Path.Combine(AppContext.BaseDirectory, "models", file);
}

/// <summary>One replica: a host serving model "iris" with its own local cache and the shared Redis L2.</summary>
internal sealed class Replica : IAsyncDisposable
{
    public const string Name = "iris";

    private readonly IHost _host;

    private Replica(IHost host)
    {
        _host = host;
        Predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        Local = host.Services.GetRequiredService<ModelRegistry>().Get(Name).Features.Cache!.Statistics;
        L2 = (RedisSharedCacheStore)host.Services.GetRequiredKeyedService<ISharedCacheStore>(Name);
    }

    public IServiceProvider Services => _host.Services;

    public IPredictor<IrisInput, IrisOutput> Predictor { get; }

    public ICacheCounters Local { get; }

    public RedisSharedCacheStore L2 { get; }

    public FakeLogCollector Logs => _host.Services.GetFakeLogCollector();

    public static async Task<Replica> StartAsync(RedisFixture redis, string modelFile = "iris_mlp.onnx", string store = "lru", Action<RedisCacheOptions>? configure = null, bool healthChecks = false)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.AddFakeLogging();
        if (healthChecks)
        {
            builder.Services.AddHealthChecks();
        }

        var model = builder.Services.AddModel<IrisInput, IrisOutput>(Name, o => o.Source = ModelSource.FromFile(Iris.Model(modelFile))).UseCaching();
        if (store == "memory")
        {
            model.UseMemoryCache();
        }

        model.UseRedisCache(o =>
        {
            o.Configuration = redis.Configuration;
            o.LookupTimeout = TimeSpan.FromMilliseconds(50); // a shared CI machine; the default is 10 ms
            configure?.Invoke(o);
        });
        var host = builder.Build();
        await host.StartAsync();
        var replica = new Replica(host);
        await replica.L2.Connecting;
        return replica;
    }

    /// <summary>The readiness entry of the L2 cache (needs <c>healthChecks: true</c> at start).</summary>
    public async Task<HealthReportEntry> CacheHealthAsync() =>
        (await _host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains("ready"))).Entries["redis-cache:" + Name];

    public Task<IrisOutput> PredictAsync(float[] features) => Predictor.PredictAsync(new IrisInput { Features = [.. features] }).AsTask();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        if (_host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        else
        {
            _host.Dispose();
        }
    }
}

/// <summary>Reads and writes the L2's keys directly.</summary>
internal static class RedisKeys
{
    public static async Task<RedisKey[]> ListAsync(RedisFixture redis)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration! + ",allowAdmin=true");
        var keys = new List<RedisKey>();
        await foreach (var key in connection.GetServer("127.0.0.1", redis.Port).KeysAsync(pattern: "mis:cache:*"))
        {
            keys.Add(key);
        }

        return [.. keys];
    }

    /// <summary>Waits until Redis holds <paramref name="count"/> cache keys (the writes are asynchronous).</summary>
    public static async Task<RedisKey[]> WaitForAsync(RedisFixture redis, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var keys = await ListAsync(redis);
            if (keys.Length >= count || DateTime.UtcNow > deadline)
            {
                Assert.Equal(count, keys.Length);
                return keys;
            }

            await Task.Delay(10);
        }
    }

    public static async Task WaitUntilAsync(Func<bool> condition, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold in time.");
            await Task.Delay(10);
        }
    }
}
