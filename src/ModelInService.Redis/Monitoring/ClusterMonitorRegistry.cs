using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelInService.Monitoring;

namespace ModelInService.Redis.Monitoring;

/// <summary>Marks a monitored model as clustered on Redis (registered by <c>UseRedisMonitoring</c>).</summary>
internal sealed record RedisMonitoredModel(string Name);

/// <summary>Creates one <see cref="ClusterMonitor"/> per clustered model, over the core's monitor of that model.</summary>
internal sealed class ClusterMonitorRegistry : IDisposable
{
    private readonly Dictionary<string, ClusterMonitor> _monitors = new(StringComparer.Ordinal);

    public ClusterMonitorRegistry(
        MonitorRegistry monitors,
        IEnumerable<RedisMonitoredModel> models,
        IOptionsMonitor<RedisMonitoringOptions> options,
        RedisConnection connection,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        TimeProvider? timeProvider = null)
    {
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelInService.Redis.Monitoring");
        foreach (var model in models)
        {
            if (!_monitors.ContainsKey(model.Name))
            {
                _monitors[model.Name] = new ClusterMonitor(monitors.Get(model.Name), options.Get(model.Name), connection, timeProvider ?? TimeProvider.System, logger, meterFactory);
            }
        }
    }

    public IReadOnlyCollection<ClusterMonitor> Monitors => _monitors.Values;

    public ClusterMonitor Get(string name) =>
        _monitors.TryGetValue(name, out var monitor)
            ? monitor
            : throw new InvalidOperationException($"Model '{name}' has no cluster monitor; call UseRedisMonitoring() on its builder.");

    public void Dispose()
    {
        foreach (var monitor in _monitors.Values)
        {
            monitor.Dispose();
        }
    }
}
