using System.Collections.Concurrent;
using System.Threading.Channels;

namespace ModelInService.Batching;

internal sealed partial class DynamicBatcher<TInput, TOutput>
{
    /// <summary>High, Normal, Low (<see cref="PredictionPriority"/>).</summary>
    private const int Priorities = 3;

    /// <summary>
    /// One bounded channel per priority (<see cref="BatchQueueKind.Channel"/>). A write that the channel refuses is
    /// answered at once; completing the channels at stop makes "still accepting?" and "enqueue" one atomic step.
    /// </summary>
    private readonly Channel<Request>[]? _channels;

    /// <summary>The earlier structure (<see cref="BatchQueueKind.ConcurrentQueue"/>), kept to compare against.</summary>
    private readonly ConcurrentQueue<Request>[]? _concurrentQueues;

    /// <summary>Requests demoted by <see cref="DeadlineAction.Delay"/>; under <see cref="_takeLock"/>.</summary>
    private readonly Queue<Request> _delayed = new();

    /// <summary>Serializes dequeuing so the priority and starvation decisions see one consistent state.</summary>
    private readonly Lock _takeLock = new();

    /// <summary>Makes <see cref="StopAsync"/> run once.</summary>
    private readonly Lock _acceptLock = new();

    /// <summary>Wakes the collecting worker: arrivals, the batch timer, the model going idle, stopping.</summary>
    private readonly Doorbell _doorbell = new();

    /// <summary>
    /// Entries per channel (<see cref="BatchQueueKind.Channel"/> only): raised after a write, lowered after a read. A
    /// count above zero means an entry is there (one reader at a time), so the reader looks only at channels that
    /// have entries: one channel lock per take. Concurrent queues answer the same question without a counter.
    /// </summary>
    private readonly int[] _counts = new int[Priorities];

    /// <summary>Consecutive takes from a higher priority while a lower queue was waiting (starvation guard).</summary>
    private int _streak;

    private static (Channel<Request>[]?, ConcurrentQueue<Request>[]?) CreateQueues(BatchQueueKind kind, int capacity)
    {
        if (kind == BatchQueueKind.ConcurrentQueue)
        {
            return (null, [new(), new(), new()]);
        }

        var options = new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite answers false when full: nothing is dropped silently
            SingleReader = false, // the collector, and the stop that fails what is left
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        };
        var channels = new Channel<Request>[Priorities];
        for (var p = 0; p < channels.Length; p++)
        {
            channels[p] = Channel.CreateBounded<Request>(options);
        }

        return (channels, null);
    }

    /// <summary>
    /// Queues the request in its priority's queue; false when refused (stopped, or full). A request that raced with
    /// the stop is queued and then answered "shutting down" here (its entry stays until a worker or the stop drops it).
    /// </summary>
    private bool TryWrite(Request request)
    {
        if (_channels is { } channels)
        {
            if (!channels[request.Priority].Writer.TryWrite(request))
            {
                return false;
            }

            Interlocked.Increment(ref _counts[request.Priority]);
            return true;
        }

        if (!_accepting)
        {
            return false;
        }

        // No lock: the stop clears _accepting, fences, and only then fails what is queued (its last FailQueued runs
        // after the workers exited). With this thread's fence between the write and the second look, either that
        // FailQueued sees the entry or this thread sees the stop (Dekker), so no request is left in a queue nobody
        // reads. Requests are answered once whoever gets there first: the stop, a worker, or the branch below.
        _concurrentQueues![request.Priority].Enqueue(request);
        Interlocked.MemoryBarrier();
        if (!_accepting && request.TryClaim(request.Generation))
        {
            Publish(request, ShuttingDown(), RequestOutcome.Rejected);
        }

        return true;
    }

    /// <summary>Refuses every later write. Under <see cref="_acceptLock"/>.</summary>
    private void CompleteQueues()
    {
        if (_channels is { } channels)
        {
            foreach (var channel in channels)
            {
                channel.Writer.TryComplete();
            }
        }
    }

    /// <summary>
    /// Whether the priority's queue has an entry, without a lock. <see cref="ConcurrentQueue{T}.IsEmpty"/> does not
    /// freeze the segment (a peek that returns the item does); with one reader at a time, "not empty" means the next
    /// read succeeds.
    /// </summary>
    private bool HasEntries(int priority) => _channels is null
        ? !_concurrentQueues![priority].IsEmpty
        : Volatile.Read(ref _counts[priority]) > 0;

    private bool TryPeek(int priority, out Request head)
    {
        if (_channels is { } channels)
        {
            return channels[priority].Reader.TryPeek(out head!);
        }

        return _concurrentQueues![priority].TryPeek(out head!);
    }

    private bool TryRead(int priority, out Request request)
    {
        if (_channels is { } channels)
        {
            if (!channels[priority].Reader.TryRead(out request!))
            {
                return false;
            }

            Interlocked.Decrement(ref _counts[priority]);
            return true;
        }

        return _concurrentQueues![priority].TryDequeue(out request!);
    }

    /// <summary>
    /// Dequeues the entry that is served next (live or already answered), or null when every queue is empty: the
    /// highest priority, except that after <see cref="BatchingOptions.StarvationLimit"/> takes in a row while a lower
    /// queue waits, the lower queue whose head has waited longest; requests late under <see cref="DeadlineAction.Delay"/> last.
    /// </summary>
    private Request? Dequeue()
    {
        lock (_takeLock)
        {
            return DequeueLocked();
        }
    }

    /// <summary>
    /// Moves up to <paramref name="into"/>'s length of entries (<see cref="Dequeue"/>'s order) into it under one
    /// acquisition of the take lock; how many.
    /// </summary>
    private int DequeueMany(Span<Request> into)
    {
        var n = 0;
        lock (_takeLock)
        {
            while (n < into.Length && DequeueLocked() is { } request)
            {
                into[n++] = request;
            }
        }

        return n;
    }

    /// <summary><see cref="Dequeue"/> under <see cref="_takeLock"/>.</summary>
    private Request? DequeueLocked()
    {
        while (true)
        {
            var chosen = -1;
            var starving = -1;
            var oldest = long.MaxValue;
            for (var p = 0; p < Priorities; p++)
            {
                if (chosen < 0)
                {
                    if (HasEntries(p))
                    {
                        chosen = p;
                    }
                }
                else if (HasEntries(p) && TryPeek(p, out var head) && head.Enqueued < oldest)
                {
                    starving = p;
                    oldest = head.Enqueued;
                }
            }

            if (chosen < 0)
            {
                return _delayed.TryDequeue(out var late) ? late : null;
            }

            if (starving >= 0)
            {
                if (++_streak > _options.StarvationLimit)
                {
                    _streak = 0;
                    chosen = starving;
                }
            }
            else
            {
                _streak = 0;
            }

            // One reader at a time (this lock): a queue that has entries yields one.
            TryRead(chosen, out var request);
            if (_options.DeadlineAction == DeadlineAction.Delay && request.IsExpired && !request.IsClaimed)
            {
                // Past its deadline: serve it only after every on-time request (it keeps its place in the queue bound).
                _delayed.Enqueue(request);
                if (!HasEntries(0) && !HasEntries(1) && !HasEntries(2))
                {
                    return _delayed.Dequeue();
                }

                continue;
            }

            return request;
        }
    }
}
