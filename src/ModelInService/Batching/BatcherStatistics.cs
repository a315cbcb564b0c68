namespace ModelInService.Batching;

/// <summary>How a request through the batcher ended.</summary>
internal enum RequestOutcome
{
    Success,
    Rejected,
    TimedOut,
    Canceled,
    Failed,
}

/// <summary>
/// Counters and events of one batcher: what the metrics layer exports (queue wait, batch size, compute time, queue
/// depth, outcome per request). Counters are updated with interlocked operations; <see cref="Listener"/> is called
/// synchronously on the worker or the completing thread and must be fast.
/// </summary>
internal sealed class BatcherStatistics
{
    private long _success;
    private long _rejected;
    private long _timedOut;
    private long _canceled;
    private long _failed;
    private long _batches;
    private long _batchedItems;
    private long _splits;
    private int _largestBatch;
    private int _deepestQueue;
    private long _listenerErrors;

    /// <summary>Exceptions thrown by <see cref="Listener"/> and swallowed.</summary>
    public long ListenerErrors => Interlocked.Read(ref _listenerErrors);

    public long Succeeded => Interlocked.Read(ref _success);

    public long Rejected => Interlocked.Read(ref _rejected);

    public long TimedOut => Interlocked.Read(ref _timedOut);

    public long Canceled => Interlocked.Read(ref _canceled);

    public long Failed => Interlocked.Read(ref _failed);

    public long Batches => Interlocked.Read(ref _batches);

    public long BatchedItems => Interlocked.Read(ref _batchedItems);

    /// <summary>Batches split in two after the model failed on them (poison isolation).</summary>
    public long PoisonSplits => Interlocked.Read(ref _splits);

    public int LargestBatch => Volatile.Read(ref _largestBatch);

    public int DeepestQueue => Volatile.Read(ref _deepestQueue);

    /// <summary>Optional observer (metrics, tests).</summary>
    public IBatcherListener? Listener { get; set; }

    public void Outcome(RequestOutcome outcome)
    {
        switch (outcome)
        {
            case RequestOutcome.Success: Interlocked.Increment(ref _success); break;
            case RequestOutcome.Rejected: Interlocked.Increment(ref _rejected); break;
            case RequestOutcome.TimedOut: Interlocked.Increment(ref _timedOut); break;
            case RequestOutcome.Canceled: Interlocked.Increment(ref _canceled); break;
            default: Interlocked.Increment(ref _failed); break;
        }

        Notify(static (l, o) => l.RequestCompleted(o), outcome);
    }

    /// <summary>Counts <paramref name="count"/> successes of one batch with one interlocked add (the listener still hears each).</summary>
    public void Successes(int count)
    {
        Interlocked.Add(ref _success, count);
        if (Listener is null)
        {
            return;
        }

        for (var i = 0; i < count; i++)
        {
            Notify(static (l, o) => l.RequestCompleted(o), RequestOutcome.Success);
        }
    }

    public void Batch(int size, TimeSpan compute)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batchedItems, size);
        Max(ref _largestBatch, size);
        Notify(static (l, a) => l.BatchCompleted(a.size, a.compute), (size, compute));
    }

    public void QueueWait(TimeSpan wait) => Notify(static (l, w) => l.QueueWaited(w), wait);

    public void QueueDepth(int depth)
    {
        Max(ref _deepestQueue, depth);
        Notify(static (l, d) => l.QueueDepthChanged(d), depth);
    }

    public void Split() => Interlocked.Increment(ref _splits);

    /// <summary>A listener that throws (e.g. a metrics callback) must never break the batcher.</summary>
    private void Notify<T>(Action<IBatcherListener, T> call, T argument)
    {
        if (Listener is not { } listener)
        {
            return;
        }

        try
        {
            call(listener, argument);
        }
#pragma warning disable CA1031 // A faulty observer must not affect requests.
        catch (Exception)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _listenerErrors);
        }
    }

    private static void Max(ref int location, int value)
    {
        var current = Volatile.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}

/// <summary>Receives the batcher's events (the metrics issue implements it with System.Diagnostics.Metrics).</summary>
internal interface IBatcherListener
{
    void RequestCompleted(RequestOutcome outcome);

    void BatchCompleted(int size, TimeSpan compute);

    void QueueWaited(TimeSpan wait);

    void QueueDepthChanged(int depth);
}
