using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace ModelInService.Redis.Tests.Monitoring;

/// <summary>The registration: hosted synchronization on its timer, start-up validation, graceful lease release; and the bytes an interval costs.</summary>
[Collection(RedisTests.Name)]
public sealed class ClusterMonitorHostingTests(RedisFixture redis, ITestOutputHelper output)
{
    private static IHostBuilder Builder(string? configuration, Action<RedisMonitoringOptions>? configure = null) =>
        new HostBuilder().ConfigureServices(s => s
            .AddModel<IrisRow, IrisAnswer>("iris", o => o.Source = ModelSource.FromFile(Path.Combine(AppContext.BaseDirectory, "models", "iris_mlp.onnx")))
            .UseMonitoring()
            .UseRedisMonitoring(o =>
            {
                o.Configuration = configuration;
                o.KeyPrefix = "hosting";
                o.ReplicaId = "h1";
                o.SyncInterval = TimeSpan.FromMilliseconds(100);
                o.LeasePeriod = TimeSpan.FromSeconds(5);
                configure?.Invoke(o);
            }));

    [Fact]
    public void UseRedisMonitoring_WithoutUseMonitoring_Throws()
    {
        var services = new ServiceCollection();
        var builder = services.AddModel<IrisRow, IrisAnswer>("iris", o => o.Source = ModelSource.FromFile("iris.onnx"));
        var error = Assert.Throws<InvalidOperationException>(() => builder.UseRedisMonitoring());
        Assert.Contains("UseMonitoring", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_RefusesALeaseShorterThanThreeSyncIntervals_AndADelayOfAWholeInterval()
    {
        using var host = Builder("127.0.0.1:1", o =>
        {
            o.SyncInterval = TimeSpan.FromSeconds(10);
            o.LeasePeriod = TimeSpan.FromSeconds(15);
            o.EvaluationDelay = TimeSpan.FromMinutes(1);
        }).Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal(
            [
                "Model 'iris': RedisMonitoringOptions.LeasePeriod (00:00:15) must be at least 100 ms and at least three SyncIntervals (00:00:10), so the holder renews in time.",
                "Model 'iris': RedisMonitoringOptions.EvaluationDelay (00:01:00) must be at least zero and shorter than the monitor's IntervalLength (00:01:00).",
            ],
            error.Failures);
    }

    [SkippableFact]
    public async Task Host_SynchronizesOnItsTimer_TakesTheLease_AndReleasesItAtStop()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        using var host = Builder(redis.Configuration).Build();
        await host.StartAsync();
        var cluster = host.Services.GetRequiredKeyedService<IClusterMonitor>("iris");

        // The views the monitor endpoints and dashboard serve: the model's own monitor, and ?scope=cluster's.
        Assert.Same(cluster.Local, host.Services.GetRequiredKeyedService<IModelMonitor>("iris"));
        Assert.Same(cluster.Cluster, host.Services.GetRequiredKeyedService<IModelMonitor>(ModelMonitorViews.ClusterKey("iris")));
        var waited = Stopwatch.StartNew();
        while (!cluster.Status.IsLeaseHolder)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), "the hosted synchronization never took the lease");
            await Task.Delay(50);
        }

        Assert.True(cluster.Status.Connected);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var lease = connection.GetDatabase();
        var value = (string?)await lease.StringGetAsync("{hosting:mon:iris}:lease");
        Assert.StartsWith(cluster.Status.Fence.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":", value, StringComparison.Ordinal);

        await host.StopAsync();
        Assert.False((await lease.StringGetAsync("{hosting:mon:iris}:lease")).HasValue);
    }

    [Fact]
    public async Task Host_StartsAndServesWhileRedisIsUnreachable()
    {
        // Port 1 on loopback: nothing listens. Start-up must not wait for Redis, and predictions must not touch it.
        using var host = Builder("127.0.0.1:1,connectTimeout=200").Build();
        await host.StartAsync();
        var predictor = host.Services.GetRequiredService<IPredictor<IrisRow, IrisAnswer>>();
        for (var i = 0; i < 20; i++)
        {
            await predictor.PredictAsync(new IrisRow { Features = [5.1f, 3.5f, 1.4f, 0.2f] });
        }

        var cluster = host.Services.GetRequiredKeyedService<IClusterMonitor>("iris");
        await cluster.SyncAsync();
        Assert.False(cluster.Status.Connected);
        Assert.False(string.IsNullOrEmpty(cluster.Status.Reason));
        await host.StopAsync();
    }

    /// <summary>
    /// The figure in docs/deployment.md: bytes of one published interval of iris (4 input features, label and 3
    /// probabilities), by predictions per interval. Run: dotnet test tests/ModelInService.Redis.Tests --filter
    /// PublishedBytesPerInterval --logger "console;verbosity=detailed".
    /// </summary>
    [SkippableFact]
    public async Task PublishedBytesPerInterval_Iris()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 0, 0, 30, TimeSpan.Zero));
        await using var replica = await Replica.StartAsync("m", time, new EventLog(), redis.Configuration);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();
        var sizes = new List<(int Rows, long Bytes)>();
        foreach (var rows in new[] { 100, 1_000, 10_000, 100_000 })
        {
            var n = 0;
            foreach (var batch in IrisTraffic.Rows(rows, rows).Chunk(1_000))
            {
                await Task.WhenAll(batch.Select(f => replica.Predictor.PredictAsync(new IrisRow { Features = f }).AsTask()));
                n += batch.Length;
            }

            time.Advance(TimeSpan.FromMinutes(1));
            await replica.Cluster.SyncAsync();
            var index = (time.GetUtcNow().UtcTicks / TimeSpan.FromMinutes(1).Ticks) - 1;
            var bytes = await db.StringLengthAsync($"{{test:mon:iris}}:i:{index}:m");
            sizes.Add((n, bytes));
            output.WriteLine($"iris, {n,7} predictions in the interval: {bytes,6} bytes published");
        }

        // Sketches are bounded: a thousand times the traffic costs a small multiple of the bytes.
        Assert.All(sizes, s => Assert.InRange(s.Bytes, 500, 64 * 1024));
        Assert.True(sizes[^1].Bytes < 8 * sizes[1].Bytes);
    }
}
