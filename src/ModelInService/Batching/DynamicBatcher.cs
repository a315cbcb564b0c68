using System.Collections.Concurrent;
using System.Diagnostics;

namespace ModelInService.Batching;

/// <summary>
/// Collects concurrent single predictions into batches. Requests wait in bounded per-priority queues
/// (<see cref="BatchQueueKind"/>: concurrent queues by default, where bounded channels measured slower); one worker per pool slot takes the first request, keeps taking until
/// <see cref="BatchingOptions.MaxBatchSize"/> or until <see cref="BatchingOptions.MaxDelay"/> has passed since that first
/// request arrived, then runs the batch. Every request completes exactly once: with its own output, or with a typed
/// error (overloaded, deadline, canceled, shutting down, or the model's failure isolated by bisecting the batch).
/// Requests are pooled <see cref="System.Threading.Tasks.Sources.IValueTaskSource{TResult}"/>s: a batched request
/// allocates no Task and no timer.
/// </summary>
/// <remarks>
/// Files: this one (accepting, stopping, answering), <c>.Queues</c> (the per-priority queues and the order they are
/// served in), <c>.Collect</c> (the workers and how a batch is formed), <c>.Run</c> (running a batch, buckets, poison
/// isolation), <c>.Deadlines</c> (one timer for every deadline), <c>.Request</c> (the pooled request).
/// </remarks>
[DebuggerDisplay("{ModelName}: {QueueDepth} queued, {Pending} pending")]
internal sealed partial class DynamicBatcher<TInput, TOutput> : IModelBatcher
{
    private readonly BatchingOptions _options;
    private readonly IBatchExecutor<TInput, TOutput> _executor;
    private readonly TimeProvider _time;
    private readonly BatchCostModel _cost = new();
    private readonly int _maxBatch;
    private readonly long _maxDelayTicks;
    private readonly HashSet<int> _preferred;

    /// <summary>Requests that were answered and read by their callers, ready for reuse.</summary>
    private readonly ConcurrentQueue<Request> _pool = new();

    /// <summary>Canceled when the workers must stop taking (drained, or the drain timed out).</summary>
    private readonly CancellationTokenSource _stopTaking = new();

    /// <summary>One timer for every queued or running request's deadline (not one timer per request).</summary>
    private readonly DeadlineSweeper _deadlines;

    /// <summary>Canceled when the drain timed out: running batches are terminated and their requests failed.</summary>
    private readonly CancellationTokenSource _abort = new();

    /// <summary>Completed when no request is pending after stopping began.</summary>
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly Task[] _workers;

    /// <summary>One queue place and one pending request: the two counts of <see cref="_load"/>, raised together per request.</summary>
    private const long QueuedAndPending = (1L << 32) | 1;

    /// <summary>
    /// Two counts in one word, so an arrival raises both with one interlocked add: the low 32 bits count entries in
    /// the queues (live or already answered; bounded by MaxQueueSize across all priorities), the high 32 bits requests
    /// accepted and not yet answered (queued, collecting or running). Neither goes below zero, so they never borrow.
    /// </summary>
    private long _load;

    /// <summary>Batches running now (all workers).</summary>
    private int _running;

    /// <summary>Requests ever created (the rest were reused from the pool).</summary>
    private long _created;

    private volatile bool _accepting = true;

    /// <summary>Set when stopping begins: the collector stops waiting for more requests and runs what is queued.</summary>
    private volatile bool _draining;
    private Task? _stopping;

    public DynamicBatcher(string modelName, BatchingOptions options, int workers, IBatchExecutor<TInput, TOutput> executor, TimeProvider time, BatchQueueKind queueKind = BatchQueueKind.ConcurrentQueue)
    {
        ModelName = modelName;
        _options = options;
        _executor = executor;
        _time = time;
        QueueKind = queueKind;
        _maxBatch = Math.Max(1, Math.Min(options.MaxBatchSize, executor.MaxRowsPerRun));
        _maxDelayTicks = (long)(options.MaxDelay.TotalSeconds * time.TimestampFrequency);
        _preferred = [.. options.PreferredBatchSizes];
        _taken = new Request[_maxBatch];
        (_channels, _concurrentQueues) = CreateQueues(queueKind, Math.Max(1, options.MaxQueueSize));
        _deadlines = new DeadlineSweeper(this);
        _batchTimer = time.CreateTimer(static s => ((DynamicBatcher<TInput, TOutput>)s!).OnBatchTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _workers = new Task[Math.Max(1, workers)];
        for (var i = 0; i < _workers.Length; i++)
        {
            // Workers are long-lived async loops; they start on the thread pool, never on the caller's context.
            _workers[i] = Task.Run(WorkerAsync);
        }
    }

    public string ModelName { get; }

    public BatcherStatistics Statistics { get; } = new();

    public int QueueDepth => (int)Volatile.Read(ref _load);

    /// <summary>Requests accepted and not yet answered.</summary>
    private int Pending => (int)(Volatile.Read(ref _load) >> 32);

    public int EffectiveMaxBatchSize => _maxBatch;

    /// <summary>The structure behind the priority queues (chosen at construction; the load harness compares them).</summary>
    internal BatchQueueKind QueueKind { get; }

    internal BatchCostModel CostModel => _cost;

    /// <summary>Whether every worker loop has exited (after <see cref="StopAsync"/>): no task is left behind.</summary>
    internal bool WorkersExited => Array.TrueForAll(_workers, static w => w.IsCompleted);

    /// <summary>Request objects created so far; the rest of the requests reused pooled ones.</summary>
    internal long RequestsCreated => Interlocked.Read(ref _created);

    /// <summary>Queues one row of bucket <paramref name="bucket"/> (rows of different buckets never run together).</summary>
    public ValueTask<TOutput> EnqueueAsync(TInput input, long bucket, PredictionOptions? options, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            Statistics.Outcome(RequestOutcome.Canceled);
            return ValueTask.FromCanceled<TOutput>(cancellationToken);
        }

        options ??= PredictionOptions.Default;
        var timeout = _options.DefaultTimeout;
        if (options.Timeout is { } requested && requested >= TimeSpan.Zero && (timeout == Timeout.InfiniteTimeSpan || requested < timeout))
        {
            timeout = requested; // a call may shorten the deadline, never lengthen it
        }

        if (timeout == TimeSpan.Zero)
        {
            // A deadline already past (a caller passing on what is left of its own): answered at once, as the direct
            // path does. Queued, it ran when a batch happened to start within the same clock tick (the first call after
            // start-up failed, later ones were answered).
            Statistics.Outcome(RequestOutcome.TimedOut);
            return ValueTask.FromException<TOutput>(new ModelDeadlineExceededException(ModelName, $"Request to model '{ModelName}' exceeded its 0 ms deadline (already past when it arrived).", timeout));
        }

        var priority = (int)options.Priority;
        if ((uint)priority >= Priorities)
        {
            priority = (int)PredictionPriority.Normal;
        }

        // The bound counts across priorities; the queues' own bound (TryWrite) is the same number per priority, so
        // once this count is taken only a stopped batcher refuses the write.
        if ((int)Interlocked.Add(ref _load, QueuedAndPending) > _options.MaxQueueSize)
        {
            Interlocked.Add(ref _load, -QueuedAndPending);
            return Overloaded();
        }

        var now = _time.GetTimestamp();
        var request = Rent();
        request.Init(input, priority, now, timeout, bucket, cancellationToken);
        if (!TryWrite(request))
        {
            // Refused by the queue: stopped (the queues are completed) or, should the counts ever disagree, full.
            // Its queue place goes back now; its pending count when it is answered, below.
            Interlocked.Decrement(ref _load);
            var accepting = _accepting;
            if (request.TryClaim(request.Generation))
            {
                Publish(request, accepting ? OverloadedError() : ShuttingDown(), RequestOutcome.Rejected);
            }

            request.Release();
            return request.AsValueTask();
        }

        Statistics.QueueDepth(QueueDepth);
        if (_options.Adaptive)
        {
            _cost.AddArrival(now, _time.TimestampFrequency);
        }

        if (request.DeadlineTicks != long.MaxValue)
        {
            _deadlines.Add(request, timeout == _options.DefaultTimeout);
        }

        request.Arm();
        _doorbell.Ring();
        return request.AsValueTask();
    }

    /// <summary>Stops accepting, lets queued requests run for up to <paramref name="drainTimeout"/>, then fails the rest.</summary>
    public Task StopAsync(TimeSpan drainTimeout)
    {
        lock (_acceptLock)
        {
            if (_stopping is not null)
            {
                return _stopping;
            }

            _accepting = false;
            CompleteQueues(); // from here on, writes are refused ("shutting down")
            Interlocked.MemoryBarrier(); // pairs with Publish: one of the two sides sees the other
            if (Pending == 0)
            {
                _drained.TrySetResult();
            }

            _stopping = StopCoreAsync(drainTimeout);
        }

        // Nothing new will arrive: the collector stops waiting for MaxDelay and runs what is queued now.
        _draining = true;
        _doorbell.Ring();
        return _stopping;
    }

    private async Task StopCoreAsync(TimeSpan drainTimeout)
    {
        using (var timeout = new CancellationTokenSource(drainTimeout, _time))
        {
            await _drained.Task.WaitAsync(timeout.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        // Whatever is left did not make it in time: terminate running batches and fail queued requests.
        await _abort.CancelAsync().ConfigureAwait(false);
        await _stopTaking.CancelAsync().ConfigureAwait(false);
        _doorbell.Ring();
        FailQueued();
        await Task.WhenAll(_workers).ConfigureAwait(false);

        // Entries a worker had taken from a queue but not yet claimed when it saw the stop.
        FailQueued();
    }

    /// <summary>Releases the wait handles; call after <see cref="StopAsync"/> completed.</summary>
    public void Dispose()
    {
        _deadlines.Dispose();
        _batchTimer.Dispose();
        _stopTaking.Dispose();
        _collector.Dispose();
        _abort.Dispose();
    }

    /// <summary>Fails every queued request.</summary>
    private void FailQueued()
    {
        while (Dequeue() is { } request)
        {
            Interlocked.Decrement(ref _load);
            if (request.TryTake() && request.TryClaim(request.Generation))
            {
                Publish(request, ShuttingDown(), RequestOutcome.Failed);
            }

            request.Release();
        }
    }

    private Request Rent()
    {
        if (_pool.TryDequeue(out var request))
        {
            return request;
        }

        Interlocked.Increment(ref _created);
        return new Request(this);
    }

    /// <summary>Fails a request whose answer the caller just claimed: its last touch of it.</summary>
    private void Publish(Request request, Exception error, RequestOutcome outcome)
    {
        Statistics.Outcome(outcome);
        request.SetException(error);
        Finished();
    }

    /// <summary>Fails a request the caller holds (a worker's batch), unless it was answered already.</summary>
    private void Fail(Request request, Exception error, RequestOutcome outcome)
    {
        if (request.TryClaim(request.Generation))
        {
            Publish(request, error, outcome);
        }
    }

    /// <summary>Bookkeeping after the one and only answer of <paramref name="count"/> requests.</summary>
    private void Finished(int count = 1)
    {
        if (Interlocked.Add(ref _load, -((long)count << 32)) >> 32 == 0 && !_accepting)
        {
            _drained.TrySetResult();
        }
    }

    private ValueTask<TOutput> Overloaded()
    {
        Statistics.Outcome(RequestOutcome.Rejected);
        return ValueTask.FromException<TOutput>(OverloadedError());
    }

    private ModelOverloadedException OverloadedError()
    {
        var retryAfter = RetryAfter();
        return new ModelOverloadedException(ModelName,
            $"Model '{ModelName}' is overloaded: {_options.MaxQueueSize} requests are already queued (BatchingOptions.MaxQueueSize). Retry after {retryAfter.TotalMilliseconds:0} ms.",
            retryAfter);
    }

    private TimeSpan RetryAfter()
    {
        var perItem = _cost.HasEstimate ? _cost.Predict(_maxBatch) / _maxBatch : _options.MaxDelay.TotalSeconds;
        var seconds = QueueDepth * perItem / _workers.Length;
        return TimeSpan.FromSeconds(Math.Clamp(seconds, 0.001, 60));
    }

    private ModelNotReadyException ShuttingDown() =>
        new(ModelName, $"Model '{ModelName}' is shutting down and did not run this request.");
}
