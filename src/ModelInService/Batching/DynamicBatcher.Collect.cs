using System.Runtime.CompilerServices;

namespace ModelInService.Batching;

internal sealed partial class DynamicBatcher<TInput, TOutput>
{
    /// <summary>The collector role: one worker forms a batch at a time.</summary>
    private readonly SemaphoreSlim _collector = new(1, 1);

    /// <summary>The collector's MaxDelay timer: one for the batcher, re-armed per batch (not a timer per batch or per request).</summary>
    private readonly ITimer _batchTimer;

    /// <summary>The collector's scratch for one round of dequeues (<see cref="TakeAvailable"/>).</summary>
    private readonly Request[] _taken;

    /// <summary>How often <see cref="_batchTimer"/> fired: a collector that armed it sees whether it still runs.</summary>
    private int _batchTimerFires;

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
                if (!await TakeFirstAsync(batch).ConfigureAwait(false))
                {
                    return;
                }

                var running = false;
                try
                {
                    await CollectAsync(batch).ConfigureAwait(false);
                    _deadlines.Trim(); // once per batch: the deadline entries appended since the last one are sorted in
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
                        // The model just went idle: wake the collector so it runs its partial batch now.
                        _doorbell.Ring();
                    }

                    // Every request of the batch is answered: the batcher lets go of them (the pool gets them back
                    // once their callers read the answers too).
                    foreach (var request in batch)
                    {
                        request.Release();
                    }

                    batch.Clear();
                }
            }
            finally
            {
                if (collecting)
                {
                    _collector.Release();
                }
            }
        }
    }

    /// <summary>Waits until the batch has its first request (and takes whatever else is queued); false once the workers must stop.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // one per batch: pooled, not allocated
    private async ValueTask<bool> TakeFirstAsync(List<Request> batch)
    {
        while (!_stopTaking.IsCancellationRequested)
        {
            if (TakeAvailable(batch))
            {
                return true;
            }

            await _doorbell.WaitAsync().ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>Adds requests to <paramref name="batch"/> until it is full, MaxDelay passes, or (work-conserving) the model is idle.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // one per batch: pooled, not allocated
    private async ValueTask CollectAsync(List<Request> batch)
    {
        var due = batch[0].Enqueued + _maxDelayTicks;
        var armed = false;
        var armedAt = 0;
        while (batch.Count < _maxBatch)
        {
            if (TakeAvailable(batch))
            {
                continue;
            }

            var remaining = due - _time.GetTimestamp();
            if (remaining <= 0 || _preferred.Contains(batch.Count) || (_options.Adaptive && !_cost.ShouldWait(batch.Count)) || _draining || _stopTaking.IsCancellationRequested)
            {
                return;
            }

            // Work-conserving: with nothing queued and no batch running, waiting cannot make anything faster; it
            // only leaves the model idle (and, with closed-loop callers all inside this batch, nothing will come).
            if (_options.DispatchWhenIdle && Volatile.Read(ref _running) == 0)
            {
                return;
            }

            // The batch timer follows the injected clock (FakeTimeProvider in tests). Armed once per batch; again
            // only if it fired before the clock reached the batch's due time.
            var fires = Volatile.Read(ref _batchTimerFires);
            if (!armed || fires != armedAt)
            {
                armed = true;
                armedAt = fires;
                _batchTimer.Change(Delay(remaining), Timeout.InfiniteTimeSpan);
            }

            await _doorbell.WaitAsync().ConfigureAwait(false); // an arrival, the timer, the model going idle, stopping
        }
    }

    private void OnBatchTimer()
    {
        Interlocked.Increment(ref _batchTimerFires);
        _doorbell.Ring();
    }

    /// <summary>A timer delay for <paramref name="ticks"/> timestamp ticks, rounded up to whole milliseconds so it never fires early.</summary>
    private TimeSpan Delay(long ticks)
    {
        if (ticks <= 0)
        {
            return TimeSpan.Zero;
        }

        var milliseconds = Math.Ceiling(ticks * 1000.0 / _time.TimestampFrequency);
        return TimeSpan.FromMilliseconds(milliseconds);
    }

    /// <summary>
    /// Moves the live requests queued now into <paramref name="batch"/>, up to the batch size: one acquisition of the
    /// take lock, one queue-count update and one clock read per round of dequeues, not per request. Whether it grew.
    /// Only the collector calls it (the scratch array is the collector role's).
    /// </summary>
    private bool TakeAvailable(List<Request> batch)
    {
        var grew = false;
        while (batch.Count < _maxBatch)
        {
            var taken = _taken.AsSpan(0, _maxBatch - batch.Count);
            var n = DequeueMany(taken);
            if (n == 0)
            {
                break;
            }

            // The queue bound counts physical entries, so requests canceled while queued still hold their place (and
            // their memory) until they are dequeued here: the bound is a real memory bound.
            Statistics.QueueDepth((int)Interlocked.Add(ref _load, -n));
            var now = _time.GetTimestamp();
            for (var i = 0; i < n; i++)
            {
                var request = taken[i];
                taken[i] = null!;
                if (Claim(request, batch.Count, now))
                {
                    batch.Add(request);
                    grew = true;
                }
            }
        }

        return grew;
    }

    /// <summary>Takes a dequeued request for the batch: a live one becomes "taken"; an answered one is let go (false).</summary>
    private bool Claim(Request request, int batchSize, long now)
    {
        if (!request.TryTake())
        {
            request.Release(); // canceled or timed out while queued: already answered
            return false;
        }

        var waited = _time.GetElapsedTime(request.Enqueued, now);
        Statistics.QueueWait(waited);
        request.Activity?.SetTag(Telemetry.ModelTracing.QueueWaitTag, waited.TotalMilliseconds);
        if (_options.Adaptive && request.DeadlineTicks != long.MaxValue && _cost.HasEstimate)
        {
            var finish = now + (long)(_cost.Predict(batchSize + 1) * _time.TimestampFrequency);
            if (finish > request.DeadlineTicks)
            {
                Fail(request, new ModelDeadlineExceededException(ModelName,
                    $"Request to model '{ModelName}' would miss its {request.Timeout.TotalMilliseconds:0} ms deadline (predicted batch time {_cost.Predict(batchSize + 1) * 1000:0.###} ms); rejected before running.",
                    request.Timeout), RequestOutcome.TimedOut);
                request.Release();
                return false;
            }
        }

        return true;
    }
}
