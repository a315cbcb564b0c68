namespace ModelInService.Batching;

/// <summary>
/// The structure behind the batcher's per-priority queues. Internal: it exists so the load harness can run both
/// side by side (<c>load --batcher-only --queue channel|concurrent</c>). The default is
/// <see cref="ConcurrentQueue"/>: on the no-op model the channels cost more CPU per request and served fewer
/// requests per second (docs/batching.md, "Channels vs hand-written queue").
/// </summary>
internal enum BatchQueueKind
{
    /// <summary>One bounded <see cref="System.Threading.Channels.Channel{T}"/> per priority; TryWrite answers a refused write at once.</summary>
    Channel,

    /// <summary>One <see cref="System.Collections.Concurrent.ConcurrentQueue{T}"/> per priority behind an accept lock (the default).</summary>
    ConcurrentQueue,
}
