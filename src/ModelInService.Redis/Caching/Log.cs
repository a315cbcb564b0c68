using Microsoft.Extensions.Logging;

namespace ModelInService.Redis.Caching;

/// <summary>The L2 cache's log messages (source-generated).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1661, EventName = "RedisCacheUnavailable", Level = LogLevel.Warning, Message = "Model '{ModelName}': the Redis L2 prediction cache is unreachable; requests are answered as local misses until it returns ({Reason})")]
    public static partial void Unavailable(ILogger logger, string modelName, string reason);

    [LoggerMessage(EventId = 1662, EventName = "RedisCacheRestored", Level = LogLevel.Information, Message = "Model '{ModelName}': the Redis L2 prediction cache is reachable again")]
    public static partial void Restored(ILogger logger, string modelName);

    [LoggerMessage(EventId = 1663, EventName = "RedisCacheCorruptEntry", Level = LogLevel.Warning, Message = "Model '{ModelName}': an L2 entry did not deserialize and was treated as a miss (key {Key}); further ones are only counted")]
    public static partial void CorruptEntry(ILogger logger, string modelName, string key);

    [LoggerMessage(EventId = 1664, EventName = "RedisCacheWriteRefused", Level = LogLevel.Warning, Message = "Model '{ModelName}': Redis refused an L2 write ({Reason}); such writes are counted as failed (model_in_service.cache.l2.writes, result=failed) and logged again only when the reason changes")]
    public static partial void WriteRefused(ILogger logger, string modelName, string reason);
}
