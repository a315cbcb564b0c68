using StackExchange.Redis;

namespace ModelInService.Redis.Tests;

/// <summary>The fixture itself: the server answers, and comes back on the same port after a kill.</summary>
[Collection(RedisTests.Name)]
public sealed class RedisFixtureTests(RedisFixture redis)
{
    [SkippableFact]
    public async Task Server_answers_and_survives_a_restart_on_the_same_port()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();
        Assert.True(await db.StringSetAsync("fixture:key", "value"));
        Assert.Equal("value", (string?)await db.StringGetAsync("fixture:key"));

        await redis.StopServerAsync();
        await Assert.ThrowsAnyAsync<RedisException>(() => db.PingAsync());

        await redis.StartServerAsync();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!connection.IsConnected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        // No persistence: the restarted server is empty, and the same multiplexer reconnected to it.
        Assert.False((await db.StringGetAsync("fixture:key")).HasValue);
    }
}
