using Microsoft.Extensions.Logging;

namespace ModelInService.Redis.Monitoring;

/// <summary>Log messages of the cluster monitor. Event ids 3100-3119 (3100-3107 used).</summary>
internal static partial class ClusterMonitorLog
{
    [LoggerMessage(EventId = 3100, EventName = "ClusterMonitorRedisUnavailable", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': Redis is unreachable ({Reason}); replica {Replica} keeps serving and monitoring locally and buffers its intervals (logged once per outage)")]
    public static partial void Unavailable(ILogger logger, string modelName, string replica, string reason, Exception exception);

    [LoggerMessage(EventId = 3101, EventName = "ClusterMonitorRedisRecovered", Level = LogLevel.Information,
        Message = "Model '{ModelName}': Redis is reachable again after {Failures} failed synchronization(s); replica {Replica} published {Published} buffered interval(s)")]
    public static partial void Recovered(ILogger logger, string modelName, string replica, long failures, int published);

    [LoggerMessage(EventId = 3102, EventName = "ClusterMonitorLeaseAcquired", Level = LogLevel.Information,
        Message = "Model '{ModelName}': replica {Replica} holds the cluster evaluation lease (fence {Fence}); last evaluated interval {LastEvaluated}")]
    public static partial void LeaseAcquired(ILogger logger, string modelName, string replica, long fence, long lastEvaluated);

    [LoggerMessage(EventId = 3103, EventName = "ClusterMonitorLeaseLost", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': replica {Replica} lost the cluster evaluation lease (fence {Fence}); it no longer raises events")]
    public static partial void LeaseLost(ILogger logger, string modelName, string replica, long fence);

    [LoggerMessage(EventId = 3104, EventName = "ClusterMonitorEntryMalformed", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': skipped {Count} malformed cluster monitor entr(y/ies) in Redis; the first, {Member}: {Reason}")]
    public static partial void EntriesMalformed(ILogger logger, string modelName, int count, string member, string reason);

    [LoggerMessage(EventId = 3105, EventName = "ClusterMonitorBufferFull", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': the buffer of unpublished intervals is full ({Capacity}); the oldest was dropped")]
    public static partial void BufferFull(ILogger logger, string modelName, int capacity);

    [LoggerMessage(EventId = 3106, EventName = "ClusterMonitorStateMalformed", Level = LogLevel.Warning,
        Message = "Model '{ModelName}': the cluster evaluation state in Redis is malformed and was ignored: {Reason}")]
    public static partial void StateMalformed(ILogger logger, string modelName, string reason);

    [LoggerMessage(EventId = 3107, EventName = "ClusterMonitorSyncFailed", Level = LogLevel.Error,
        Message = "Model '{ModelName}': a cluster monitor synchronization failed; the next one runs on schedule")]
    public static partial void SyncFailed(ILogger logger, string modelName, Exception exception);
}
