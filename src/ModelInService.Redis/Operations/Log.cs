using Microsoft.Extensions.Logging;

namespace ModelInService.Redis.Operations;

/// <summary>Log messages of cluster operations. Event ids 1600-1619.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1600, EventName = "ClusterOperationsStarted", Level = LogLevel.Information,
        Message = "Cluster operations: replica '{ReplicaId}' follows the desired state of {Models} model(s) under '{KeyPrefix}'")]
    public static partial void Started(ILogger logger, string replicaId, int models, string keyPrefix);

    [LoggerMessage(EventId = 1601, EventName = "ClusterRedisUnreachable", Level = LogLevel.Warning,
        Message = "Cluster operations: Redis is unreachable ({Reason}); operations apply on this replica only and are published when Redis returns")]
    public static partial void RedisUnreachable(ILogger logger, string reason);

    [LoggerMessage(EventId = 1602, EventName = "ClusterRedisRestored", Level = LogLevel.Information,
        Message = "Cluster operations: Redis is reachable again; publishing pending operations and converging to the stored state")]
    public static partial void RedisRestored(ILogger logger);

    [LoggerMessage(EventId = 1603, EventName = "ClusterOperationPublished", Level = LogLevel.Information,
        Message = "Cluster operations: published {Operation} of model '{ModelName}' as revision {Revision} (serving {Sha256})")]
    public static partial void Published(ILogger logger, string operation, string modelName, long revision, string sha256);

    [LoggerMessage(EventId = 1604, EventName = "ClusterRevisionApplied", Level = LogLevel.Information,
        Message = "Cluster operations: model '{ModelName}' converged to revision {Revision} ({Operation} from '{Origin}') with {Steps} step(s)")]
    public static partial void Applied(ILogger logger, string modelName, long revision, string operation, string origin, int steps);

    [LoggerMessage(EventId = 1605, EventName = "ClusterRevisionFailed", Level = LogLevel.Error,
        Message = "Cluster operations: model '{ModelName}' cannot apply revision {Revision} ({Operation} from '{Origin}'): {Reason}; it keeps serving its current version")]
    public static partial void ApplyFailed(ILogger logger, string modelName, long revision, string operation, string origin, string reason);

    [LoggerMessage(EventId = 1611, EventName = "ClusterLostStateNotRestated", Level = LogLevel.Warning,
        Message = "Redis lost model '{ModelName}''s desired state, which this replica had not applied ({Error}); it does not restate its own version (that could roll back the replicas that applied it) and follows the next revision")]
    public static partial void LostStateNotRestated(ILogger logger, string modelName, string error);

    [LoggerMessage(EventId = 1610, EventName = "ClusterRedisRefused", Level = LogLevel.Warning,
        Message = "Cluster operations: Redis refused the {Stage} ({Reason}); it is reachable, so this is not an outage: operations apply on this replica until it accepts them")]
    public static partial void RedisRefused(ILogger logger, string stage, string reason);

    [LoggerMessage(EventId = 1609, EventName = "ClusterStaleDesiredIgnored", Level = LogLevel.Warning,
        Message = "Cluster operations: model '{ModelName}' found desired revision {Revision} stored, older than revision {Followed} it already followed while the revision counter is past it (a replayed or restored state); not followed, this replica restates what it serves")]
    public static partial void StaleDesiredIgnored(ILogger logger, string modelName, long revision, long followed);

    [LoggerMessage(EventId = 1606, EventName = "ClusterPendingSuperseded", Level = LogLevel.Warning,
        Message = "Cluster operations: the {Operation} of model '{ModelName}' issued here while Redis was unreachable is older than revision {Revision} ({StoredOperation} from '{Origin}'); the stored state wins")]
    public static partial void PendingSuperseded(ILogger logger, string operation, string modelName, long revision, string storedOperation, string origin);

    [LoggerMessage(EventId = 1607, EventName = "ClusterStateMalformed", Level = LogLevel.Warning,
        Message = "Cluster operations: the stored desired state of model '{ModelName}' is refused ({Reason}); nothing is applied")]
    public static partial void Malformed(ILogger logger, string modelName, string reason);

    [LoggerMessage(EventId = 1608, EventName = "ClusterOperationsLoopFailed", Level = LogLevel.Error,
        Message = "Cluster operations: an unexpected error in the {Loop} loop; it continues")]
    public static partial void LoopFailed(ILogger logger, string loop, Exception exception);
}
