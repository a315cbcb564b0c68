using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ModelInService.Redis.Caching;

/// <summary>What the L2 store knows of its Redis.</summary>
internal enum RedisCacheState
{
    /// <summary>Connected, and no write refused recently.</summary>
    Healthy,

    /// <summary>The first connection attempt is under way.</summary>
    Connecting,

    /// <summary>Not connected: lookups are misses at once and writes are dropped.</summary>
    Unreachable,

    /// <summary>Connected, but Redis answered writes with an error (out of memory, read-only replica, ...).</summary>
    RefusingWrites,
}

/// <summary>
/// Readiness of a model's Redis L2 cache: Healthy while Redis answers; Degraded with the reason while it is unreachable
/// or refuses writes (requests are still answered, from the local cache and the model, so never Unhealthy).
/// Registered as <c>redis-cache:{model}</c>, tagged <c>ready</c>, when the app adds health checks.
/// </summary>
internal sealed class RedisCacheHealthCheck(string model, RedisSharedCacheStore store) : IHealthCheck
{
    /// <summary>How long a refused write keeps the check Degraded when no write succeeded since (no write, no news).</summary>
    internal static readonly TimeSpan RefusedWriteWindow = TimeSpan.FromMinutes(1);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var statistics = store.Statistics;
        var data = new Dictionary<string, object>
        {
            ["hits"] = statistics.Hits,
            ["misses"] = statistics.Misses,
            ["timeouts"] = statistics.Timeouts,
            ["unavailable"] = statistics.Unavailable,
            ["errors"] = statistics.Errors,
            ["written"] = statistics.Written,
            ["failedWrites"] = statistics.FailedWrites,
            ["droppedWrites"] = statistics.Dropped,
            ["outages"] = statistics.Outages,
        };
        var (state, reason) = store.GetState(RefusedWriteWindow);
        return Task.FromResult(state switch
        {
            RedisCacheState.Connecting => HealthCheckResult.Degraded($"Model '{model}': connecting to the Redis L2 prediction cache; requests are answered without it meanwhile", data: data),
            RedisCacheState.Unreachable => HealthCheckResult.Degraded($"Model '{model}': the Redis L2 prediction cache is unreachable ({reason}); requests are answered from the local cache and the model", data: data),
            RedisCacheState.RefusingWrites => HealthCheckResult.Degraded($"Model '{model}': Redis refuses L2 cache writes ({reason}); lookups still answer, new predictions are not shared", data: data),
            _ => HealthCheckResult.Healthy($"Model '{model}': Redis L2 prediction cache connected", data),
        });
    }
}
