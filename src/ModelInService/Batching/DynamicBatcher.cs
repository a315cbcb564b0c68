using System.Collections.Concurrent;
using System.Diagnostics;
using ModelInService.Hosting;

namespace ModelInService.Batching;

/// <summary>
/// Collects concurrent single predictions into batches. Requests wait in bounded per-priority queues; one worker per
/// pool slot takes the first request, keeps taking until <see cref="BatchingOptions.MaxBatchSize"/> or until
/// <see cref="BatchingOptions.MaxDelay"/> has passed since that first request arrived, then runs the batch. Every
/// request completes exactly once: with its own output, or with a typed error (overloaded, deadline, canceled,
/// shutting down, or the model's failure isolated by bisecting the batch).
/// </summary>
[DebuggerDisplay("{ModelName}: {QueueDepth} queued, {_pending} pending")]
internal sealed class DynamicBatcher<TInput, TOutput> : IModelBatcher
{
    /// <summary>Priority queues (High, Normal, Low), then the queue of requests demoted by <see cref="DeadlineAction.Delay"/>.</summary>
    private readonly ConcurrentQueue<Request>[] _queues = [new(), new(), new()];
    private readonly ConcurrentQueue<Request> _delayed = new();

    /// <summary>
    /// Counts entries in the queues (live or already finished). Producers enqueue then release; a consumer that
    /// acquired one count is guaranteed an entry, so dequeuing under <see cref="_takeLock"/> never comes back empty.
    /// </summary>
    private readonly SemaphoreSlim _available = new(0);

    /// <summary>Serializes dequeuing so the priority and starvation decisions see one consistent state.</summary>
    private readonly Lock _takeLock = new();

    /// <summary>Makes "still accepting?" and "enqueue" atomic with respect to <see cref="StopAsync"/>.</summary>
    private readonly Lock _acceptLock = new();

    private readonly BatchingOptions _options;
    private readonly IBatchExecutor<TInput, TOutput> _executor;
    private readonly TimeProvider _time;
    private readonly BatchCostModel _cost = new();
    private readonly int _maxBatch;
    private readonly long _maxDelayTicks;
    private readonly HashSet<int> _preferred;

    /// <summary>Canceled when the workers must stop taking (drained, or the drain timed out).</summary>
    private readonly CancellationTokenSource _stopTaking = new();

    /// <summary>Canceled when stopping begins: collectors stop waiting for more requests and run what is queued.</summary>
    private readonly CancellationTokenSource _draining = new();

    /// <summary>The collector role: one worker forms a batch at a time.</summary>
    private readonly SemaphoreSlim _collector = new(1, 1);

    /// <summary>One timer for every queued or running request's deadline (not one timer per request).</summary>
    private readonly DeadlineSweeper _deadlines;

    /// <summary>Canceled when the drain timed out: running batches are terminated and their requests failed.</summary>
    private readonly CancellationTokenSource _abort = new();

    /// <summary>Completed when no request is pending after stopping began.</summary>
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly Task[] _workers;

    /// <summary>Live requests in the queues (not yet taken, not finished early). Bounded by MaxQueueSize.</summary>
    private int _queued;

    /// <summary>Requests accepted and not yet completed (queued, collecting or running).</summary>
    private int _pending;

    /// <summary>Batches running now (all workers).</summary>
    private int _running;

    /// <summary>Canceled (and replaced) each time the last running batch finishes: wakes workers holding a partial batch.</summary>
    private CancellationTokenSource _idle = new();

    /// <summary>Consecutive takes from a higher priority while a lower queue was waiting (starvation guard).</summary>
    private int _streak;

    private volatile bool _accepting = true;
    private Task? _stopping;

    public DynamicBatcher(string modelName, BatchingOptions options, int workers, IBatchExecutor<TInput, TOutput> executor, TimeProvider time)
    {
        ModelName = modelName;
        _options = options;
        _executor = executor;
        _time = time;
        _deadlines = new DeadlineSweeper(this);
        _maxBatch = Math.Max(1, Math.Min(options.MaxBatchSize, executor.MaxRowsPerRun));
        _maxDelayTicks = (long)(options.MaxDelay.TotalSeconds * time.TimestampFrequency);
        _preferred = [.. options.PreferredBatchSizes];
        _workers = new Task[Math.Max(1, workers)];
        for (var i = 0; i < _workers.Length; i++)
        {
            // Workers are long-lived async loops; they start on the thread pool, never on the caller's context.
            _workers[i] = Task.Run(WorkerAsync);
        }
    }

    public string ModelName { get; }

    public BatcherStatistics Statistics { get; } = new();

    public int QueueDepth => Volatile.Read(ref _queued);

    public int EffectiveMaxBatchSize => _maxBatch;

    internal BatchCostModel CostModel => _cost;

    /// <summary>Whether every worker loop has exited (after <see cref="StopAsync"/>): no task is left behind.</summary>
    internal bool WorkersExited => Array.TrueForAll(_workers, static w => w.IsCompleted);

    public ValueTask<TOutput> EnqueueAsync(TInput input, PredictionOptions? options, CancellationToken cancellationToken)
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

        var priority = (int)options.Priority;
        if ((uint)priority > 2)
        {
            priority = (int)PredictionPriority.Normal;
        }

        // Everything that can throw (user getters, a model that is not loaded) runs before the queue count is taken.
        var bucket = _executor.BucketOf(input);
        if (Interlocked.Increment(ref _queued) > _options.MaxQueueSize)
        {
            Interlocked.Decrement(ref _queued);
            Statistics.Outcome(RequestOutcome.Rejected);
            return ValueTask.FromException<TOutput>(new ModelOverloadedException(ModelName,
                $"Model '{ModelName}' is overloaded: {_options.MaxQueueSize} requests are already queued (BatchingOptions.MaxQueueSize). Retry after {RetryAfter().TotalMilliseconds:0} ms.",
                RetryAfter()));
        }

        var now = _time.GetTimestamp();
        var request = new Request(this, input, priority, now, timeout, bucket, cancellationToken);
        lock (_acceptLock)
        {
            if (!_accepting)
            {
                Interlocked.Decrement(ref _queued);
                Statistics.Outcome(RequestOutcome.Rejected);
                return ValueTask.FromException<TOutput>(ShuttingDown());
            }

            Interlocked.Increment(ref _pending);
            _queues[priority].Enqueue(request);
        }

        try
        {
            _available.Release();
        }
        catch (ObjectDisposedException)
        {
            // Disposed between the accept check and here (host torn down): answer instead of leaving it pending.
            Interlocked.Decrement(ref _queued);
            if (request.TryLeaveQueue() && request.TrySetException(ShuttingDown()))
            {
                Completed(request, RequestOutcome.Failed);
            }

            return new ValueTask<TOutput>(request.Task);
        }

        Statistics.QueueDepth(Volatile.Read(ref _queued));
        if (_options.Adaptive)
        {
            _cost.AddArrival(now, _time.TimestampFrequency);
        }

        request.Arm();
        return new ValueTask<TOutput>(request.Task);
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
            Interlocked.MemoryBarrier(); // pairs with Completed: one of the two sides sees the other
            if (Volatile.Read(ref _pending) == 0)
            {
                _drained.TrySetResult();
            }

            _stopping = StopCoreAsync(drainTimeout);
        }

        // Nothing new will arrive: collectors stop waiting for MaxDelay and run what is queued now (outside the lock:
        // cancellation runs the registered callbacks inline).
        _draining.Cancel();
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
        FailQueued();
        await Task.WhenAll(_workers).ConfigureAwait(false);

        // Entries a worker had counted but not yet dequeued when it saw the stop.
        FailQueued();
    }

    /// <summary>Releases the wait handles; call after <see cref="StopAsync"/> completed.</summary>
    public void Dispose()
    {
        _deadlines.Dispose();
        Volatile.Read(ref _idle).Dispose();
        _stopTaking.Dispose();
        _draining.Dispose();
        _collector.Dispose();
        _abort.Dispose();
        _available.Dispose();
    }

    /// <summary>Fails every queued request. Takes a count per entry, like a worker, so the count/entry invariant holds.</summary>
    private void FailQueued()
    {
        while (_available.Wait(0))
        {
            var request = Dequeue();
            Interlocked.Decrement(ref _queued);
            if (request.TryLeaveQueue())
            {
                Fail(request, ShuttingDown(), RequestOutcome.Failed);
            }
        }
    }

    private async Task WorkerAsync()
    {
        var batch = new List<Request>(_maxBatch);
        var rows = new TInput[_maxBatch];
        while (true)
        {
            // One collector at a time (leader/follower): the others wait for the collector role while their batches
            // run, so arrivals are never split between several partial batches that each wait for MaxDelay (with
            // closed-loop callers that split is a stable state that serves one batch per timer tick).
            try
            {
                await _collector.WaitAsync(_stopTaking.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var collecting = true;
            try
            {
                var first = await TakeAsync(0, _stopTaking.Token).ConfigureAwait(false);
                if (first is null)
                {
                    return;
                }

                batch.Add(first);
                var running = false;
                try
                {
                    await CollectAsync(batch).ConfigureAwait(false);
                    Interlocked.Increment(ref _running);
                    running = true;
                    _collector.Release();
                    collecting = false;
                    await RunAsync(batch, rows).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // Never let a worker die: answer its batch and keep serving.
                    foreach (var request in batch)
                    {
                        Fail(request, ex as ModelException ?? new ModelInferenceException(ModelName, $"Model '{ModelName}' failed running a batch: {ex.Message}", ex), RequestOutcome.Failed);
                    }
                }
                finally
                {
                    if (running && Interlocked.Decrement(ref _running) == 0 && _options.DispatchWhenIdle)
                    {
                        // The model just went idle: wake the collector so it runs its partial batch now. The old
                        // source is not disposed: the collector may still be reading its token.
                        Interlocked.Exchange(ref _idle, new CancellationTokenSource()).Cancel();
                    }
                }
            }
            finally
            {
                if (collecting)
                {
                    _collector.Release();
                }
            }

            batch.Clear();
        }
    }

    /// <summary>Adds requests to <paramref name="batch"/> until it is full, MaxDelay passes, or (work-conserving) the model is idle.</summary>
    private async Task CollectAsync(List<Request> batch)
    {
        var due = batch[0].Enqueued + _maxDelayTicks;

        // One timeout for the whole batch (its MaxDelay counts from the first request), created at the first wait and
        // shared by every later one: not a timer per arrival.
        CancellationTokenSource? wait = null;
        CancellationTokenRegistration stop = default;
        CancellationTokenRegistration idle = default;
        try
        {
            while (batch.Count < _maxBatch)
            {
                var next = TryTakeNow(batch.Count);
                if (next is not null)
                {
                    batch.Add(next);
                    continue;
                }

                var remaining = due - _time.GetTimestamp();
                if (remaining <= 0 || _preferred.Contains(batch.Count) || (_options.Adaptive && !_cost.ShouldWait(batch.Count)) || _draining.IsCancellationRequested)
                {
                    return;
                }

                // Work-conserving: with nothing queued and no batch running, waiting cannot make anything faster; it
                // only leaves the model idle (and, with closed-loop callers all inside this batch, nothing will come).
                if (_options.DispatchWhenIdle && Volatile.Read(ref _running) == 0)
                {
                    return;
                }

                if (wait is null)
                {
                    // The wait must follow the injected clock (FakeTimeProvider in tests), so the timeout is a TimeProvider timer.
                    wait = new CancellationTokenSource(TimeSpan.FromSeconds(remaining / (double)_time.TimestampFrequency), _time);
                    stop = _draining.Token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), wait);
                    if (_options.DispatchWhenIdle)
                    {
                        idle = Volatile.Read(ref _idle).Token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), wait);
                    }
                }

                next = await TakeAsync(batch.Count, wait.Token).ConfigureAwait(false);
                if (next is null)
                {
                    return; // MaxDelay reached, stopping, or the model went idle: run what we have
                }

                batch.Add(next);
            }
        }
        finally
        {
            stop.Dispose();
            idle.Dispose();
            wait?.Dispose();
        }
    }

    /// <summary>Waits for a count, then takes the next live request; null when <paramref name="token"/> fires first.</summary>
    private async ValueTask<Request?> TakeAsync(int batchSize, CancellationToken token)
    {
        while (true)
        {
            var wait = _available.WaitAsync(token);
            await wait.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!wait.IsCompletedSuccessfully)
            {
                return null;
            }

            var request = Claim(Dequeue(), batchSize);
            if (request is not null)
            {
                return request;
            }
        }
    }

    private Request? TryTakeNow(int batchSize)
    {
        while (_available.Wait(0))
        {
            var request = Claim(Dequeue(), batchSize);
            if (request is not null)
            {
                return request;
            }
        }

        return null;
    }

    /// <summary>Takes the request that may run next; a live one becomes "taken", a finished one is dropped (returns null).</summary>
    private Request? Claim(Request request, int batchSize)
    {
        // The queue bound counts physical entries, so requests canceled while queued still hold their place (and
        // their memory) until a worker dequeues them here: the bound is a real memory bound.
        var depth = Interlocked.Decrement(ref _queued);
        Statistics.QueueDepth(depth);
        if (!request.TryTake())
        {
            return null; // canceled or timed out while queued: already answered
        }

        var now = _time.GetTimestamp();
        Statistics.QueueWait(_time.GetElapsedTime(request.Enqueued, now));
        if (_options.Adaptive && request.DeadlineTicks != long.MaxValue && _cost.HasEstimate)
        {
            var finish = now + (long)(_cost.Predict(batchSize + 1) * _time.TimestampFrequency);
            if (finish > request.DeadlineTicks)
            {
                Fail(request, new ModelDeadlineExceededException(ModelName,
                    $"Request to model '{ModelName}' would miss its {request.Timeout.TotalMilliseconds:0} ms deadline (predicted batch time {_cost.Predict(batchSize + 1) * 1000:0.###} ms); rejected before running.",
                    request.Timeout), RequestOutcome.TimedOut);
                return null;
            }
        }

        return request;
    }

    /// <summary>Dequeues one entry; the caller holds a count, so one exists.</summary>
    private Request Dequeue()
    {
        lock (_takeLock)
        {
            while (true)
            {
                var chosen = -1;
                for (var p = 0; p < _queues.Length; p++)
                {
                    if (!_queues[p].IsEmpty)
                    {
                        chosen = p;
                        break;
                    }
                }

                if (chosen < 0)
                {
                    if (_delayed.TryDequeue(out var late))
                    {
                        return late;
                    }

                    throw new UnreachableException("The batcher's count and its queues disagree.");
                }

                var starving = OldestBelow(chosen);
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

                _queues[chosen].TryDequeue(out var request);
                if (_options.DeadlineAction == DeadlineAction.Delay && request!.Expired && !request.Task.IsCompleted)
                {
                    // Past its deadline: serve it only after every on-time request. Its count moves with it.
                    _delayed.Enqueue(request);
                    if (_queues[0].IsEmpty && _queues[1].IsEmpty && _queues[2].IsEmpty)
                    {
                        _delayed.TryDequeue(out var oldest);
                        return oldest!;
                    }

                    continue;
                }

                return request!;
            }
        }
    }

    private int OldestBelow(int priority)
    {
        var oldest = -1;
        var oldestTime = long.MaxValue;
        for (var p = priority + 1; p < _queues.Length; p++)
        {
            if (_queues[p].TryPeek(out var head) && head.Enqueued < oldestTime)
            {
                oldest = p;
                oldestTime = head.Enqueued;
            }
        }

        return oldest;
    }

    private async Task RunAsync(List<Request> batch, TInput[] rows)
    {
        // Requests canceled or timed out while the batch was forming never reach the model.
        batch.RemoveAll(static r => r.Task.IsCompleted);
        if (batch.Count == 0)
        {
            return;
        }

        var bucket = batch[0].Bucket;
        var mixed = false;
        for (var i = 1; i < batch.Count; i++)
        {
            mixed |= batch[i].Bucket != bucket;
        }

        if (!mixed)
        {
            await RunRangeAsync(batch, 0, batch.Count, rows).ConfigureAwait(false);
            return;
        }

        // Bucket by length: rows that cannot share a tensor run as separate sub-batches, in arrival order.
        var remaining = new List<Request>(batch);
        var group = new List<Request>(batch.Count);
        while (remaining.Count > 0)
        {
            var key = remaining[0].Bucket;
            group.Clear();
            for (var i = 0; i < remaining.Count; i++)
            {
                if (remaining[i].Bucket == key)
                {
                    group.Add(remaining[i]);
                }
            }

            remaining.RemoveAll(r => r.Bucket == key);
            await RunRangeAsync(group, 0, group.Count, rows).ConfigureAwait(false);
        }
    }

    private async Task RunRangeAsync(List<Request> batch, int start, int count, TInput[] rows)
    {
        // Requests answered meanwhile (canceled, timed out) are not run again, not even when a split reruns a half.
        var live = 0;
        for (var i = 0; i < count; i++)
        {
            if (!batch[start + i].Task.IsCompleted)
            {
                live++;
            }
        }

        if (live == 0)
        {
            return;
        }

        if (live < count)
        {
            var remaining = new List<Request>(live);
            for (var i = 0; i < count; i++)
            {
                if (!batch[start + i].Task.IsCompleted)
                {
                    remaining.Add(batch[start + i]);
                }
            }

            batch = remaining;
            start = 0;
            count = live;
        }

        for (var i = 0; i < count; i++)
        {
            rows[i] = batch[start + i].Input;
        }

        var started = _time.GetTimestamp();
        TOutput[] outputs;
        ModelNonFiniteOutputException?[]? failures = null;
        try
        {
            outputs = await _executor.ExecuteAsync(rows.AsMemory(0, count), _abort.Token).ConfigureAwait(false);
        }
        catch (Schema.PartialOutputException<TOutput> partial) when (partial.Outputs.Length == count)
        {
            // Some rows' outputs were non-finite (found per row at unpack): those rows fail, the others are answered.
            outputs = partial.Outputs;
            failures = partial.Failures;
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            FailRange(batch, start, count, ShuttingDown());
            return;
        }
        catch (Exception ex) when (count > 1 && ex is ModelInferenceException or ModelInputException)
        {
            // Poison isolation: the model failed on the batch; run each half so valid requests still succeed.
            Statistics.Split();
            var half = count / 2;
            await RunRangeAsync(batch, start, half, rows).ConfigureAwait(false);
            await RunRangeAsync(batch, start + half, count - half, rows).ConfigureAwait(false);
            return;
        }
        catch (Exception ex)
        {
            FailRange(batch, start, count, ex);
            return;
        }
        finally
        {
            Array.Clear(rows, 0, count);
        }

        var elapsed = _time.GetElapsedTime(started);
        Statistics.Batch(count, elapsed);
        if (_options.Adaptive)
        {
            _cost.AddBatch(count, elapsed.TotalSeconds);
        }

        if (outputs.Length != count)
        {
            FailRange(batch, start, count, new ModelInferenceException(ModelName, $"Model '{ModelName}' returned {outputs.Length} outputs for {count} inputs.", null));
            return;
        }

        // Recorded before the callers see their results (like a direct run), so a caller that awaited its answer and
        // then flushes the monitor finds it there; recording a batch costs microseconds (long vectors are capped).
        var answered = 0;
        var answers = outputs;
        if (failures is not null)
        {
            answers = new TOutput[count];
            for (var i = 0; i < count; i++)
            {
                if (failures[i] is null)
                {
                    rows[answered] = batch[start + i].Input;
                    answers[answered++] = outputs[i];
                }
            }

            Array.Resize(ref answers, answered);
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                rows[i] = batch[start + i].Input;
            }

            answered = count;
        }

        try
        {
            _executor.Answered(rows.AsSpan(0, answered), answers);
        }
#pragma warning disable CA1031 // Observing answered rows (the monitor) must never stop a worker.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            Array.Clear(rows, 0, count);
        }

        for (var i = 0; i < count; i++)
        {
            var request = batch[start + i];
            if (failures?[i] is { } failure)
            {
                Fail(request, failure, RequestOutcome.Failed);
            }
            else if (request.TrySetResult(outputs[i]))
            {
                Completed(request, RequestOutcome.Success);
            }
        }
    }

    private void FailRange(List<Request> batch, int start, int count, Exception error)
    {
        for (var i = 0; i < count; i++)
        {
            Fail(batch[start + i], error, RequestOutcome.Failed);
        }
    }

    private void Fail(Request request, Exception error, RequestOutcome outcome)
    {
        if (request.TrySetException(error))
        {
            Completed(request, outcome);
        }
    }

    /// <summary>Bookkeeping after a request's one and only completion.</summary>
    private void Completed(Request request, RequestOutcome outcome)
    {
        request.Disarm();
        Statistics.Outcome(outcome);
        if (Interlocked.Decrement(ref _pending) == 0 && !_accepting)
        {
            _drained.TrySetResult();
        }
    }

    private TimeSpan RetryAfter()
    {
        var perItem = _cost.HasEstimate ? _cost.Predict(_maxBatch) / _maxBatch : _options.MaxDelay.TotalSeconds;
        var seconds = Volatile.Read(ref _queued) * perItem / _workers.Length;
        return TimeSpan.FromSeconds(Math.Clamp(seconds, 0.001, 60));
    }

    private ModelNotReadyException ShuttingDown() =>
        new(ModelName, $"Model '{ModelName}' is shutting down and did not run this request.");

    /// <summary>One queued prediction. Its task completes exactly once (TrySet*); <see cref="_state"/> decides who removes it from the queue count.</summary>
    private sealed class Request : TaskCompletionSource<TOutput>
    {
        private const int Queued = 0;
        private const int Taken = 1;
        private const int LeftQueue = 2;

        private readonly DynamicBatcher<TInput, TOutput> _owner;
        private readonly CancellationToken _token;
        private int _state;
        private bool _disarmed;
        private CancellationTokenRegistration _registration;

        public Request(DynamicBatcher<TInput, TOutput> owner, TInput input, int priority, long enqueued, TimeSpan timeout, long bucket, CancellationToken token)
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            _owner = owner;
            Input = input;
            Priority = priority;
            Enqueued = enqueued;
            Timeout = timeout;
            Bucket = bucket;
            _token = token;
            DeadlineTicks = timeout == System.Threading.Timeout.InfiniteTimeSpan
                ? long.MaxValue
                : enqueued + (long)(timeout.TotalSeconds * owner._time.TimestampFrequency);
        }

        public TInput Input { get; private set; }

        public int Priority { get; }

        public long Enqueued { get; }

        public TimeSpan Timeout { get; }

        public long Bucket { get; }

        public long DeadlineTicks { get; }

        /// <summary>Set when the deadline passed under <see cref="DeadlineAction.Delay"/>.</summary>
        public bool Expired { get; private set; }

        /// <summary>Queued → taken by a worker. False when the request already left the queue.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Queued) == Queued;

        /// <summary>Queued → left the queue (canceled, timed out, failed at shutdown). Its entry stays until dequeued; the input is released now.</summary>
        public bool TryLeaveQueue()
        {
            if (Interlocked.CompareExchange(ref _state, LeftQueue, Queued) != Queued)
            {
                return false;
            }

            Input = default!;
            return true;
        }

        /// <summary>Registers the deadline with the batcher's sweeper and the cancellation callback (after the request is queued).</summary>
        public void Arm()
        {
            if (DeadlineTicks != long.MaxValue)
            {
                // Completed requests are dropped by the sweeper lazily; nothing to undo here.
                _owner._deadlines.Add(this);
            }

            // Arm runs on the caller after the request is visible to workers; Disarm runs on whoever completes it.
            // Both take this request's monitor (uncontended in practice), so a registration is never leaked.
            if (_token.CanBeCanceled)
            {
                var registration = _token.UnsafeRegister(static s => ((Request)s!).OnCanceled(), this);
                lock (this)
                {
                    if (!_disarmed)
                    {
                        _registration = registration;
                        return;
                    }
                }

                registration.Unregister();
            }
        }

        public void Disarm()
        {
            CancellationTokenRegistration registration;
            lock (this)
            {
                _disarmed = true;
                registration = _registration;
                _registration = default;
            }

            registration.Unregister();
        }

        private void OnCanceled()
        {
            TryLeaveQueue();
            if (TrySetCanceled(_token))
            {
                _owner.Completed(this, RequestOutcome.Canceled);
            }
        }

        /// <summary>The deadline passed (called by the sweeper; the request may have completed meanwhile: then nothing happens).</summary>
        public void OnDeadline()
        {
            if (_owner._options.DeadlineAction == DeadlineAction.Delay)
            {
                Expired = true;
                return;
            }

            TryLeaveQueue();
            var error = new ModelDeadlineExceededException(_owner.ModelName,
                $"Request to model '{_owner.ModelName}' exceeded its {Timeout.TotalMilliseconds:0} ms deadline (queue time included).", Timeout);
            if (TrySetException(error))
            {
                _owner.Completed(this, RequestOutcome.TimedOut);
            }
        }
    }

    /// <summary>
    /// The deadlines of a batcher's requests in a min-heap under one <see cref="ITimer"/> armed for the earliest:
    /// adding a request costs a heap insert instead of creating, starting and disposing a timer of its own (the
    /// per-request timer cost 35-57% of throughput on cheap models, docs/batching-performance.md). Completed requests
    /// leave the heap lazily: when they reach its top, or in a compaction once the heap holds four times more entries
    /// than requests are pending, so its memory stays proportional to the live requests.
    /// </summary>
    private sealed class DeadlineSweeper : IDisposable
    {
        private readonly DynamicBatcher<TInput, TOutput> _owner;
        private readonly PriorityQueue<Request, long> _heap = new();
        private readonly Lock _gate = new();
        private readonly ITimer _timer;
        private long _armedFor = long.MaxValue;
        private bool _disposed;

        public DeadlineSweeper(DynamicBatcher<TInput, TOutput> owner)
        {
            _owner = owner;
            _timer = owner._time.CreateTimer(static s => ((DeadlineSweeper)s!).OnTimer(), this, System.Threading.Timeout.InfiniteTimeSpan, System.Threading.Timeout.InfiniteTimeSpan);
        }

        public void Add(Request request)
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                _heap.Enqueue(request, request.DeadlineTicks);
                if (_heap.Count > 1024 && _heap.Count > 4 * Math.Max(1, Volatile.Read(ref _owner._pending)))
                {
                    Compact();
                }

                if (request.DeadlineTicks < _armedFor)
                {
                    Arm(request.DeadlineTicks);
                }
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
                _heap.Clear();
            }

            _timer.Dispose();
        }

        /// <summary>Fails (or marks, under <see cref="DeadlineAction.Delay"/>) every request whose deadline passed, then re-arms.</summary>
        private void OnTimer()
        {
            List<Request>? expired = null;
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                var now = _owner._time.GetTimestamp();
                while (_heap.TryPeek(out var head, out var deadline))
                {
                    if (head.Task.IsCompleted)
                    {
                        _heap.Dequeue();
                    }
                    else if (deadline <= now)
                    {
                        _heap.Dequeue();
                        (expired ??= []).Add(head);
                    }
                    else
                    {
                        break;
                    }
                }

                _armedFor = long.MaxValue;
                if (_heap.TryPeek(out _, out var next))
                {
                    Arm(next);
                }
            }

            if (expired is not null)
            {
                // Outside the lock: completing a request runs the batcher's bookkeeping (continuations are asynchronous).
                foreach (var request in expired)
                {
                    request.OnDeadline();
                }
            }
        }

        /// <summary>Starts the timer for <paramref name="due"/> (a timestamp). Under the lock.</summary>
        private void Arm(long due)
        {
            _armedFor = due;
            var remaining = due - _owner._time.GetTimestamp();

            // Rounded up, so the timer never fires before the deadline (it would only re-arm).
            var delay = remaining <= 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)Math.Ceiling(remaining * (double)TimeSpan.TicksPerSecond / _owner._time.TimestampFrequency));
            _timer.Change(delay, System.Threading.Timeout.InfiniteTimeSpan);
        }

        /// <summary>Drops completed requests from the heap. Under the lock.</summary>
        private void Compact()
        {
            var live = new List<(Request, long)>(_heap.Count / 2);
            foreach (var (request, deadline) in _heap.UnorderedItems)
            {
                if (!request.Task.IsCompleted)
                {
                    live.Add((request, deadline));
                }
            }

            _heap.Clear();
            _heap.EnqueueRange(live);
        }
    }
}
