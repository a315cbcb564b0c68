using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ModelInService.Redis.Monitoring;

/// <summary>
/// Readiness of a model's cluster monitor: Healthy while Redis answers and the cluster window is calm; Degraded with
/// the reason while Redis does not answer (the replica still serves and monitors locally, so never Unhealthy) or while
/// the cluster window reports drift or failing quality rules (the statuses the lease holder committed). Registered as
/// <c>redis-monitor:{model}</c>, tagged <c>ready</c>, when the app adds health checks.
/// </summary>
internal sealed class ClusterMonitorHealthCheck(ClusterMonitor monitor) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = monitor.Status;
        var (drifted, violating, datasetDrift) = monitor.View.CurrentStatus();
        var data = new Dictionary<string, object>
        {
            ["replica"] = monitor.ReplicaId,
            ["leaseHolder"] = status.IsLeaseHolder,
            ["bufferedIntervals"] = status.BufferedIntervals,
            ["clusterDrifted"] = string.Join(", ", drifted),
            ["clusterViolating"] = string.Join(", ", violating),
        };
        if (!status.Connected)
        {
            return Task.FromResult(HealthCheckResult.Degraded($"Model '{monitor.ModelName}': Redis unreachable ({status.Reason}); serving and monitoring locally, {status.BufferedIntervals} interval(s) buffered", data: data));
        }

        // Like the model's own readiness check: still serving, so drift across the cluster is Degraded, not Unhealthy.
        if (drifted.Count > 0 || violating.Count > 0 || datasetDrift)
        {
            var what = string.Join("; ", new[]
            {
                drifted.Count > 0 ? "drifted: " + string.Join(", ", drifted) : null,
                violating.Count > 0 ? "failing rules: " + string.Join(", ", violating) : null,
                datasetDrift ? "dataset drift" : null,
            }.Where(x => x is not null));
            return Task.FromResult(HealthCheckResult.Degraded($"Model '{monitor.ModelName}': the cluster window reports {what}", data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy($"Model '{monitor.ModelName}': cluster monitor synchronized with Redis" + (status.IsLeaseHolder ? " (this replica evaluates the cluster)" : ""), data));
    }
}
