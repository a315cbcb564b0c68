using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelInService.Caching;
using ModelInService.Redis.Caching;
using StackExchange.Redis;

namespace ModelInService.Redis;

/// <summary>Adds the Redis L2 prediction cache to a model's cache.</summary>
public static class RedisCacheBuilderExtensions
{
    private static readonly string[] ReadyTag = ["ready"];

    /// <summary>
    /// Puts a Redis L2 behind the model's local prediction cache (the built-in LRU or <c>UseMemoryCache</c>), shared by
    /// every replica: a local miss looks the same input up in Redis once, within
    /// <see cref="RedisCacheOptions.LookupTimeout"/>, before the model computes; a computed answer is written to Redis
    /// in the background. Keys carry the model file's content hash and the output layout, so versions never mix; a value
    /// that does not deserialize, a timeout or an unreachable Redis is a miss (counted, logged once per outage), never a
    /// failed request; readiness reports it (health check <c>redis-cache:{model}</c>, tagged <c>ready</c>: Degraded while
    /// Redis is unreachable or refuses writes). Call after <c>UseCaching</c>. See docs/deployment.md.
    /// </summary>
    /// <param name="builder">The model builder.</param>
    /// <param name="configure">Sets the connection (or leave it null to use the registered <c>IConnectionMultiplexer</c>) and the budgets.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException"><c>UseCaching</c> was not called for the model.</exception>
    public static ModelBuilder UseRedisCache(this ModelBuilder builder, Action<RedisCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!builder.Registration.UseCaching)
        {
            throw new InvalidOperationException($"Model '{builder.Name}': call UseCaching() before UseRedisCache().");
        }

        var name = builder.Name;
        var options = builder.Services.AddOptions<RedisCacheOptions>(name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (builder.Services.Any(d => d.IsKeyedService && d.ServiceType == typeof(ISharedCacheStore) && Equals(d.ServiceKey, name)))
        {
            return builder; // called again: the configuration adds up, the store and its check are registered once
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisCacheOptions>, RedisCacheOptionsValidator>());
        builder.Services.AddKeyedSingleton<ISharedCacheStore>(name, (services, _) => new RedisSharedCacheStore(
            name,
            services.GetRequiredService<IOptionsMonitor<RedisCacheOptions>>().Get(name),
            services.GetService<IConnectionMultiplexer>(),
            services.GetService<TimeProvider>() ?? TimeProvider.System,
            services.GetService<ILoggerFactory>()?.CreateLogger("ModelInService.Redis.Caching") ?? NullLogger.Instance,
            services.GetService<IMeterFactory>()));
        builder.Services.Configure<HealthCheckServiceOptions>(o => o.Registrations.Add(new HealthCheckRegistration(
            "redis-cache:" + name,
            sp => new RedisCacheHealthCheck(name, (RedisSharedCacheStore)sp.GetRequiredKeyedService<ISharedCacheStore>(name)),
            HealthStatus.Degraded,
            ReadyTag)));
        return builder;
    }
}
