using Microsoft.Extensions.Logging;

namespace ModelInService.AI;

/// <summary>The package's log messages (event ids 7000-7099).</summary>
internal static partial class EmbeddingLog
{
    [LoggerMessage(EventId = 7000, EventName = "EmbeddingModelReady", Level = LogLevel.Information,
        Message = "Embedding model '{Model}': {Dimensions} dimensions, {Pooling} pooling, normalize {Normalize}, max {MaxTokens} tokens ({Truncation}), length bucket {LengthBucket}")]
    public static partial void ModelReady(ILogger logger, string model, int dimensions, EmbeddingPooling pooling, bool normalize, int maxTokens, EmbeddingTruncation truncation, int lengthBucket);

    [LoggerMessage(EventId = 7001, EventName = "EmbeddingTruncated", Level = LogLevel.Debug,
        Message = "Embedding model '{Model}': text {Index} was truncated to {MaxTokens} tokens")]
    public static partial void Truncated(ILogger logger, string model, int index, int maxTokens);

    [LoggerMessage(EventId = 7002, EventName = "EmbeddingDrift", Level = LogLevel.Warning,
        Message = "Embedding model '{Model}': window {Window} drifted from the reference (p = {PValue}, MMD² {Mmd2}; median norm {NormMedian}, median tokens {TokensMedian}, unknown-token rate {UnknownRate})")]
    public static partial void Drift(ILogger logger, string model, int window, double pValue, double mmd2, double normMedian, double tokensMedian, double unknownRate);

    [LoggerMessage(EventId = 7003, EventName = "EmbeddingMonitorHandlerTimedOut", Level = LogLevel.Warning,
        Message = "Embedding model '{Model}': monitor handler {Handler} took more than {Timeout} and was abandoned")]
    public static partial void HandlerTimedOut(ILogger logger, string model, string handler, TimeSpan timeout);

    [LoggerMessage(EventId = 7004, EventName = "EmbeddingMonitorHandlerFailed", Level = LogLevel.Error,
        Message = "Embedding model '{Model}': monitor handler {Handler} failed; the other handlers still ran")]
    public static partial void HandlerFailed(ILogger logger, string model, string handler, Exception exception);
}
