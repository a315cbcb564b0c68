using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ModelInService.Redis.Monitoring;

/// <summary>
/// Readiness of a model's link to the cluster monitor: Healthy while Redis answers, Degraded with the reason while it
/// does not (the replica still serves and monitors locally, so never Unhealthy). Registered as
/// <c>redis-monitor:{model}</c>, tagged <c>ready</c>, when the app adds health checks.
/// </summary>
internal sealed class ClusterMonitorHealthCheck(ClusterMonitor monitor) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = monitor.Status;
        var data = new Dictionary<string, object>
        {
            ["replica"] = monitor.ReplicaId,
            ["leaseHolder"] = status.IsLeaseHolder,
            ["bufferedIntervals"] = status.BufferedIntervals,
        };
        return Task.FromResult(status.Connected
            ? HealthCheckResult.Healthy($"Model '{monitor.ModelName}': cluster monitor synchronized with Redis" + (status.IsLeaseHolder ? " (this replica evaluates the cluster)" : ""), data)
            : HealthCheckResult.Degraded($"Model '{monitor.ModelName}': Redis unreachable ({status.Reason}); serving and monitoring locally, {status.BufferedIntervals} interval(s) buffered", data: data));
    }
}
