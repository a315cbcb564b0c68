using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelInService.Monitoring;
using ModelInService.Redis.Monitoring;

namespace ModelInService.Redis;

/// <summary>Adds the cluster monitor on Redis to a monitored model.</summary>
public static class RedisMonitoringBuilderExtensions
{
    private static readonly string[] ReadyTag = ["ready"];

    /// <summary>
    /// Shares the model's monitor across replicas through Redis: each replica publishes every closed interval (the
    /// snapshot format, sketches inside) under model/interval/replica keys that expire with the retention and merges
    /// the others'; the replica that holds a lease (renewed, fenced) evaluates the merged cluster windows and raises
    /// each event once for the cluster, and the replicas' own monitors stop raising. Nothing touches Redis on the
    /// request path: when Redis is unreachable each replica serves and monitors locally, buffers its intervals and
    /// reports Degraded (health check <c>redis-monitor:{model}</c>, tagged <c>ready</c>). Resolve
    /// <c>[FromKeyedServices(name)] IClusterMonitor</c> for the cluster and local reports. Call after
    /// <c>UseMonitoring</c>. See docs/deployment.md.
    /// </summary>
    /// <param name="builder">The model builder.</param>
    /// <param name="configure">Sets the options (at least the Redis configuration, unless an <c>IConnectionMultiplexer</c> is registered).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The model is not monitored (call <c>UseMonitoring</c> first).</exception>
    public static ModelBuilder UseRedisMonitoring(this ModelBuilder builder, Action<RedisMonitoringOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var name = builder.Name;
        if (!services.Any(d => d.ServiceType == typeof(MonitoredModel) && d.ImplementationInstance is MonitoredModel m && m.Name == name))
        {
            throw new InvalidOperationException($"Model '{name}' is not monitored; call UseMonitoring(...) before UseRedisMonitoring(...).");
        }

        var options = services.AddOptions<RedisMonitoringOptions>(name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(RedisMonitoredModel) && d.ImplementationInstance is RedisMonitoredModel r && r.Name == name))
        {
            // Called twice: the second call only adds its configuration.
            return builder;
        }

        options.ValidateOnStart();
        services.AddSingleton(new RedisMonitoredModel(name));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisMonitoringOptions>, RedisMonitoringOptionsValidator>());
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<ClusterMonitorRegistry>();
        services.AddKeyedSingleton<IClusterMonitor>(name, static (sp, key) => sp.GetRequiredService<ClusterMonitorRegistry>().Get((string)key!));

        // The cluster view for the monitor endpoints and dashboard (MapModelMonitor's ?scope=cluster).
        services.AddKeyedSingleton<IModelMonitor>(ModelMonitorViews.ClusterKey(name), (sp, _) => sp.GetRequiredService<ClusterMonitorRegistry>().Get(name).Cluster);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ClusterMonitorHostedService>());
        services.Configure<HealthCheckServiceOptions>(o => o.Registrations.Add(new HealthCheckRegistration(
            "redis-monitor:" + name,
            sp => new ClusterMonitorHealthCheck(sp.GetRequiredService<ClusterMonitorRegistry>().Get(name)),
            HealthStatus.Degraded,
            ReadyTag)));
        return builder;
    }
}
