namespace ModelInService.Redis;

/// <summary>
/// Options of a model's cluster monitor (<see cref="RedisMonitoringBuilderExtensions.UseRedisMonitoring"/>): where
/// the replicas publish their intervals, how the evaluation lease behaves, and how a Redis outage is absorbed.
/// </summary>
/// <remarks>A plain options class, validated at start-up; not thread-safe while being configured.</remarks>
public sealed class RedisMonitoringOptions
{
    /// <summary>Gets or sets the StackExchange.Redis configuration string (e.g. <c>redis:6379</c>). Ignored when the app registers an <c>IConnectionMultiplexer</c>, which is then used.</summary>
    /// <value>Default null (an <c>IConnectionMultiplexer</c> must be registered).</value>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets the prefix of every key (several apps can share one Redis under different prefixes).</summary>
    /// <value>Default <c>mis</c>: keys are <c>{mis:mon:&lt;model&gt;}:…</c> (one hash slot per model, so the scripts work on Redis Cluster).</value>
    public string KeyPrefix { get; set; } = "mis";

    /// <summary>Gets or sets this replica's id in the interval keys. Keep it stable across restarts of the same replica (a pod name), so that a republished interval overwrites its earlier copy.</summary>
    /// <value>Default null: the machine name and process id.</value>
    public string? ReplicaId { get; set; }

    /// <summary>Gets or sets how often the replica publishes its closed intervals, reads the others' and renews or seeks the lease.</summary>
    /// <value>Default 5 seconds. At most a third of <see cref="LeasePeriod"/>, so the holder renews in time.</value>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets how long the evaluation lease lasts without renewal: after the holder dies, another replica takes over within this period plus one <see cref="SyncInterval"/>.</summary>
    /// <value>Default 15 seconds.</value>
    public TimeSpan LeasePeriod { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Gets or sets how long after an interval closes the lease holder waits before evaluating the cluster window that ends with it, so that every replica has published it. A replica publishes an interval at its first synchronization at least 1 s after it closed (a quarter of a shorter interval: rows recorded at its last instant still reach it), so keep this above 1 s plus <see cref="SyncInterval"/>.</summary>
    /// <value>Default 10 seconds (two <see cref="SyncInterval"/>s). Must be shorter than the monitor's <see cref="MonitoringOptions.IntervalLength"/>.</value>
    public TimeSpan EvaluationDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how long one round of Redis commands may take before it counts as a failure (the replica then carries on locally).</summary>
    /// <value>Default 2 seconds.</value>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets or sets how many closed intervals the replica keeps while Redis is unreachable; beyond it, the oldest are dropped (counted) so memory stays bounded.</summary>
    /// <value>Default 120 (two hours of one-minute intervals).</value>
    public int MaxBufferedIntervals { get; set; } = 120;

    /// <summary>Gets or sets the largest interval entry read from Redis; a larger one is skipped and counted as malformed before it is parsed.</summary>
    /// <value>Default 4 MiB (an iris interval is 10 to 45 KB; see docs/deployment.md).</value>
    public int MaxEntryBytes { get; set; } = 4 * 1024 * 1024;
}
