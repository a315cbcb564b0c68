using Microsoft.Extensions.Logging;

namespace ModelInService.Streaming;

/// <summary>Log messages of streaming models. Event ids 4000-4099; chunk contents and states are never logged.</summary>
internal static partial class StreamingLog
{
    [LoggerMessage(EventId = 4000, EventName = "StreamingModelBound", Level = LogLevel.Information, Message = "Streaming model '{ModelName}': {States}; sequence batching {Batching}")]
    public static partial void StreamingModelBound(ILogger logger, string modelName, string states, string batching);

    [LoggerMessage(EventId = 4001, EventName = "StreamLimitReached", Level = LogLevel.Warning, Message = "Streaming model '{ModelName}' refused {Refused} stream(s) since its last such message: {MaxStreams} streams are open (StreamingOptions.MaxStreams; logged at most once a minute)")]
    public static partial void StreamLimitReached(ILogger logger, string modelName, long refused, int maxStreams);

    [LoggerMessage(EventId = 4002, EventName = "StreamExpired", Level = LogLevel.Debug, Message = "Stream '{StreamId}' of model '{ModelName}' expired after {IdleTimeout} without a chunk")]
    public static partial void StreamExpired(ILogger logger, string modelName, string streamId, TimeSpan idleTimeout);
}
