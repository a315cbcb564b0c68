using System.Diagnostics.Metrics;

namespace ModelInService.Redis.Operations;

/// <summary>The instruments of cluster operations (meter <c>ModelInService.Redis</c>, shared with the L2 cache).</summary>
internal sealed class ClusterOperationsMetrics
{
    public const string MeterName = "ModelInService.Redis";

    private readonly Counter<long> _published;
    private readonly Counter<long> _applied;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _redisErrors;

    public ClusterOperationsMetrics(IMeterFactory factory, Func<int> pending)
    {
        var meter = factory.Create(MeterName);
        _published = meter.CreateCounter<long>("model_in_service.cluster.operations.published", "{operation}", "Operations this replica published to the cluster (a new desired-state revision each).");
        _applied = meter.CreateCounter<long>("model_in_service.cluster.operations.applied", "{operation}", "Operations this replica applied to converge to another replica's revision.");
        _failed = meter.CreateCounter<long>("model_in_service.cluster.operations.failed", "{revision}", "Revisions this replica could not apply (it kept serving its version).");
        _redisErrors = meter.CreateCounter<long>("model_in_service.cluster.redis.errors", "{error}", "Redis calls of cluster operations that failed (unreachable, timed out).");
        meter.CreateObservableGauge("model_in_service.cluster.operations.pending", pending, "{model}", "Models with a local operation not yet published (Redis unreachable).");
    }

    public void Published(string model, string operation) =>
        _published.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("operation", operation));

    public void Applied(string model, string operation) =>
        _applied.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("operation", operation));

    public void Failed(string model) => _failed.Add(1, new KeyValuePair<string, object?>("model", model));

    public void RedisError(string stage) => _redisErrors.Add(1, new KeyValuePair<string, object?>("stage", stage));
}
