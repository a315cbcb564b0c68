namespace ModelInService.Redis;

/// <summary>
/// A model's monitor across every replica that shares a Redis: the cluster window (every replica's published
/// intervals merged) next to this replica's local one. Resolve it keyed by model name
/// (<c>[FromKeyedServices("iris")] IClusterMonitor</c>) after <see cref="RedisMonitoringBuilderExtensions.UseRedisMonitoring"/>.
/// </summary>
/// <remarks>Thread-safe: every member may be called concurrently with recording and synchronization.</remarks>
public interface IClusterMonitor
{
    /// <summary>Gets the monitored model's name.</summary>
    string ModelName { get; }

    /// <summary>Gets this replica's id in the interval keys.</summary>
    string ReplicaId { get; }

    /// <summary>Gets this replica's own monitor (its traffic only; it no longer raises events: the lease holder raises the cluster's).</summary>
    IModelMonitor Local { get; }

    /// <summary>Gets the cluster view: a monitor holding every replica's published intervals merged; its reports show the statuses the lease holder last committed.</summary>
    IModelMonitor Cluster { get; }

    /// <summary>Gets the state of the link to Redis and of the lease, as of the last synchronization.</summary>
    ClusterMonitorStatus Status { get; }

    /// <summary>
    /// Runs one synchronization (the hosted service does this every <see cref="RedisMonitoringOptions.SyncInterval"/>):
    /// takes this replica's newly closed intervals into the buffer, publishes the buffer, merges the intervals other
    /// replicas published, renews or seeks the lease, and, as the holder, evaluates the cluster windows once per closed
    /// interval and raises the events. Never throws for Redis failures: they are counted, logged once per outage and
    /// shown in <see cref="Status"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for the previous synchronization and the handlers.</param>
    /// <returns>A task that completes when the synchronization is done.</returns>
    Task SyncAsync(CancellationToken cancellationToken = default);
}

/// <summary>The state of a cluster monitor's link to Redis, as of its last synchronization.</summary>
/// <param name="Connected">Whether the last synchronization reached Redis.</param>
/// <param name="Reason">Why it did not (the failure's message), or null.</param>
/// <param name="IsLeaseHolder">Whether this replica holds the evaluation lease.</param>
/// <param name="Fence">The fencing token of this replica's lease, or 0.</param>
/// <param name="BufferedIntervals">Closed intervals waiting to be published.</param>
/// <param name="LastEvaluatedInterval">The last cluster interval the lease holder committed an evaluation of (UTC ticks / interval length), or null.</param>
public readonly record struct ClusterMonitorStatus(bool Connected, string? Reason, bool IsLeaseHolder, long Fence, int BufferedIntervals, long? LastEvaluatedInterval);
