using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelInService.Redis.Operations;

namespace ModelInService.Redis;

/// <summary>Registers cluster model operations on Redis.</summary>
public static class ModelOperationsServiceCollectionExtensions
{
    private static readonly string[] ReadyTag = ["ready"];

    /// <summary>
    /// Makes reload, rollback, pin, unpin and canary/shadow start, promote and stop issued through
    /// <see cref="IModelManager"/> on this replica reach every replica sharing the Redis and <see cref="ModelOperationsOptions.KeyPrefix"/>:
    /// each operation stores the model's resulting state under a new revision and announces it; replicas converge to
    /// the highest revision (at once, on every heartbeat, and on reconnect). Versions are identified by their SHA-256 and
    /// loaded from the same file path on every replica. Adds <see cref="IModelCluster"/> (which replica serves which
    /// version), a hosted service, and a readiness check <c>model-cluster-operations</c> (tag <c>ready</c>; Degraded
    /// while Redis is unreachable or a revision cannot be applied). Models must be added with <c>AddModel</c> too; a
    /// generic host starts it after the models load.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options; at least <see cref="ModelOperationsOptions.Configuration"/>.</param>
    /// <returns>The services.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is null.</exception>
    public static IServiceCollection AddModelClusterOperations(this IServiceCollection services, Action<ModelOperationsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ModelOperationsOptions>().Configure(configure).ValidateOnStart();
        if (services.Any(d => d.ServiceType == typeof(ClusterOperations)))
        {
            return services; // configured again: the options add up, the services are registered once
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ModelOperationsOptions>, ModelOperationsOptionsValidator>());
        services.AddSingleton<ClusterOperations>();
        services.AddSingleton<IModelCluster>(sp => sp.GetRequiredService<ClusterOperations>());
        services.AddSingleton<IHostedService, ClusterOperationsHostedService>();
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            "model-cluster-operations",
            sp => new ClusterOperationsHealthCheck(sp.GetRequiredService<ClusterOperations>()),
            failureStatus: HealthStatus.Degraded,
            tags: ReadyTag));
        return services;
    }
}

/// <summary>Starts and stops <see cref="ClusterOperations"/> with the host (registered after the models' loader, so it starts after them).</summary>
internal sealed class ClusterOperationsHostedService(ClusterOperations operations) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => operations.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => operations.StopAsync(cancellationToken);
}

/// <summary>The readiness check of cluster operations.</summary>
internal sealed class ClusterOperationsHealthCheck(ClusterOperations operations) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(operations.Check());
}
