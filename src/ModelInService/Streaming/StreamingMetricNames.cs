namespace ModelInService;

/// <summary>
/// The instruments of streaming models, on the package's meter (<see cref="ModelMetricNames.Meter"/>); every one is
/// tagged with <c>model</c>. docs/metrics.md and docs/streaming.md list them.
/// </summary>
public static class StreamingMetricNames
{
    /// <summary>Streams open now (observable gauge).</summary>
    public const string OpenStreams = "model_in_service.stream.open";

    /// <summary>Chunks answered, by <c>outcome</c> (counter; its rate is chunks per second).</summary>
    public const string Chunks = "model_in_service.stream.chunks";

    /// <summary>Time from a chunk's call to its answer, waiting for the stream's previous chunk included, in seconds (histogram).</summary>
    public const string ChunkDuration = "model_in_service.stream.chunk.duration";

    /// <summary>Bytes of state held by the open streams (observable gauge).</summary>
    public const string StateBytes = "model_in_service.stream.state.bytes";

    /// <summary>Streams opened, closed, expired or refused (the bound), by <c>event</c> (counter).</summary>
    public const string StreamEvents = "model_in_service.stream.events";
}
