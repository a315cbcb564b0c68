using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace ModelInService.Redis.Tests.Monitoring;

/// <summary>A Redis that answers too slowly (CLIENT PAUSE) is an outage at OperationTimeout, and the next synchronization recovers.</summary>
[Collection(RedisTests.Name)]
public sealed class ClusterMonitorSlowRedisTests(RedisFixture redis)
{
    [SkippableFact]
    public async Task SlowRedis_IsAnOutageAtTheOperationTimeout_ThenRecovers()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 0, 0, 30, TimeSpan.Zero));
        await using var a = await Replica.StartAsync("a", time, new EventLog(), redis.Configuration, o => o.OperationTimeout = TimeSpan.FromSeconds(1));
        await a.Cluster.SyncAsync();
        Assert.True(a.Cluster.Status.Connected);

        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        await admin.GetServer("127.0.0.1", redis.Port).ExecuteAsync("CLIENT", "PAUSE", "1500");
        var sync = a.Cluster.SyncAsync();
        var waited = Stopwatch.StartNew();
        while (!sync.IsCompleted)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), "the synchronization never returned");
            time.Advance(TimeSpan.FromMilliseconds(500)); // the operation timeout runs on the injected clock
            await Task.Delay(20);
        }

        await sync;
        Assert.False(a.Cluster.Status.Connected);
        Assert.Contains("did not answer", a.Cluster.Status.Reason, StringComparison.Ordinal);

        await Task.Delay(1600); // the pause ends (real time: it is the server's)
        await a.Cluster.SyncAsync();
        Assert.True(a.Cluster.Status.Connected);
    }
}
