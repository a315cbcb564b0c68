using System.Threading.Tasks.Sources;

namespace ModelInService.Batching;

/// <summary>
/// Wakes the batcher's one collecting worker: producers, the batch timer, the idle transition and stopping ring it;
/// the collector waits on it and then looks again at everything it waits for. A ring with nobody waiting is kept, so
/// the next wait returns at once (no wake-up is lost between the collector's last look and its wait). One waiter at a
/// time (the collector role is exclusive); waiting allocates nothing.
/// </summary>
/// <remarks>
/// The waiter is woken through the thread pool's <em>global</em> queue, not the ringing thread's local one. A producer
/// rings from its own continuation; a local (LIFO) wake-up would run the collector next on that thread, ahead of the
/// other callers' continuations queued there by the last batch's answers, and with the model idle it would then run
/// every request alone: a stable state the load harness showed at batch 1.2 and a quarter of the throughput. Through
/// the global queue the callers already in flight enqueue first and join the batch.
/// </remarks>
internal sealed class Doorbell : IValueTaskSource, IThreadPoolWorkItem
{
    private const int Idle = 0;
    private const int Waiting = 1;
    private const int Rung = 2;

    // Continuations run inline in Execute, which the thread pool runs from its global queue (see the remarks).
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = false };
    private int _state;

    /// <summary>Wakes the waiter, or makes the next wait return at once. Cheap when already rung (a read).</summary>
    public void Ring()
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if (state == Rung)
            {
                return;
            }

            if (state == Waiting)
            {
                if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
                {
                    // Never the collector on a producer's thread, and behind the work already queued (see the remarks).
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                    return;
                }
            }
            else if (Interlocked.CompareExchange(ref _state, Rung, Idle) == Idle)
            {
                return;
            }
        }
    }

    /// <summary>Completes at the next ring (at once if one came since the last wait). One caller at a time.</summary>
    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Rung) == Rung)
        {
            return ValueTask.CompletedTask;
        }

        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) != Idle)
        {
            // Rung between the two exchanges.
            Volatile.Write(ref _state, Idle);
            return ValueTask.CompletedTask;
        }

        return new ValueTask(this, _core.Version);
    }

    void IThreadPoolWorkItem.Execute() => _core.SetResult(true);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
