namespace ModelInService.Batching;

/// <summary>
/// The structure behind the batcher's per-priority queues. Internal: it exists so the load harness can run both
/// side by side (<c>load --batcher-only --queue concurrent</c>); docs/batching.md has the numbers.
/// </summary>
internal enum BatchQueueKind
{
    /// <summary>One bounded <see cref="System.Threading.Channels.Channel{T}"/> per priority (the default).</summary>
    Channel,

    /// <summary>One <see cref="System.Collections.Concurrent.ConcurrentQueue{T}"/> per priority behind an accept lock (the earlier design).</summary>
    ConcurrentQueue,
}
