using System.Diagnostics.Metrics;

namespace ModelInService.Redis.Monitoring;

/// <summary>The instrument names of the cluster monitor (in the core's meter, <see cref="ModelMetricNames.Meter"/>).</summary>
internal static class ClusterMetricNames
{
    /// <summary>Synchronizations that failed to reach Redis, by model (counter).</summary>
    public const string RedisFailures = "model_in_service.monitor.redis.failures";

    /// <summary>Intervals published, by model (counter).</summary>
    public const string Published = "model_in_service.monitor.redis.published";

    /// <summary>Bytes of interval entries published, by model (counter).</summary>
    public const string PublishedBytes = "model_in_service.monitor.redis.published.bytes";

    /// <summary>Entries read from Redis and skipped as malformed, by model (counter).</summary>
    public const string Malformed = "model_in_service.monitor.redis.malformed";

    /// <summary>Closed intervals dropped because the buffer was full during an outage, by model (counter).</summary>
    public const string BufferDropped = "model_in_service.monitor.redis.buffer.dropped";

    /// <summary>Closed intervals waiting to be published, by model (gauge).</summary>
    public const string Buffered = "model_in_service.monitor.redis.buffered";

    /// <summary>1 on the replica that holds the model's evaluation lease, else 0 (gauge).</summary>
    public const string LeaseHolder = "model_in_service.monitor.cluster.lease_holder";
}

/// <summary>The cluster monitor's instruments, created from the DI <see cref="IMeterFactory"/> (none without one).</summary>
internal sealed class ClusterMonitorMetrics
{
    private readonly Counter<long>? _failures;
    private readonly Counter<long>? _published;
    private readonly Counter<long>? _publishedBytes;
    private readonly Counter<long>? _malformed;
    private readonly Counter<long>? _dropped;
    private readonly KeyValuePair<string, object?> _model;

    public ClusterMonitorMetrics(IMeterFactory? meterFactory, string modelName, Func<int> buffered, Func<bool> leaseHolder)
    {
        _model = new("model", modelName);
        if (meterFactory is null)
        {
            return;
        }

        var meter = meterFactory.Create(ModelMetricNames.Meter);
        _failures = meter.CreateCounter<long>(ClusterMetricNames.RedisFailures, "{failure}", "Cluster monitor synchronizations that failed to reach Redis.");
        _published = meter.CreateCounter<long>(ClusterMetricNames.Published, "{interval}", "Monitor intervals published to Redis.");
        _publishedBytes = meter.CreateCounter<long>(ClusterMetricNames.PublishedBytes, "By", "Bytes of monitor intervals published to Redis.");
        _malformed = meter.CreateCounter<long>(ClusterMetricNames.Malformed, "{entry}", "Cluster monitor entries read from Redis and skipped as malformed.");
        _dropped = meter.CreateCounter<long>(ClusterMetricNames.BufferDropped, "{interval}", "Closed intervals dropped because the publish buffer was full.");
        var model = _model;
        meter.CreateObservableGauge(ClusterMetricNames.Buffered, () => new Measurement<int>(buffered(), model), "{interval}", "Closed monitor intervals waiting to be published to Redis.");
        meter.CreateObservableGauge(ClusterMetricNames.LeaseHolder, () => new Measurement<int>(leaseHolder() ? 1 : 0, model), "1", "1 on the replica that holds the model's cluster evaluation lease.");
    }

    public void Failed() => _failures?.Add(1, _model);

    public void Published(long bytes)
    {
        _published?.Add(1, _model);
        _publishedBytes?.Add(bytes, _model);
    }

    public void Malformed(int count) => _malformed?.Add(count, _model);

    public void Dropped() => _dropped?.Add(1, _model);
}
