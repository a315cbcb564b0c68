using Microsoft.Extensions.Time.Testing;
using ModelInService.Batching;

namespace ModelInService.Tests.Batching;

public class DynamicBatcherTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static (DynamicBatcher<int, int> Batcher, FakeExecutor Executor, FakeTimeProvider Time) Create(Action<BatchingOptions>? configure = null, int workers = 1, int maxRows = int.MaxValue)
    {
        var time = new FakeTimeProvider();
        var options = new BatchingOptions { MaxBatchSize = 8, MaxDelay = TimeSpan.FromMilliseconds(10), DefaultTimeout = Timeout.InfiniteTimeSpan, DispatchWhenIdle = false };
        configure?.Invoke(options);
        var executor = new FakeExecutor(time, maxRows);
        return (new DynamicBatcher<int, int>("fake", options, workers, executor, time), executor, time);
    }

    /// <summary>Waits (real time, bounded) for the next run the executor started (after <paramref name="whileWaiting"/>).</summary>
    private static async Task<int[]> NextRun(FakeExecutor executor, Func<Task>? whileWaiting = null)
    {
        if (whileWaiting is not null)
        {
            await whileWaiting();
        }

        return await executor.StartedRuns.Reader.ReadAsync().AsTask().WaitAsync(Wait);
    }

    [Fact]
    public async Task FullBatch_IsDispatchedWithoutWaitingForMaxDelay()
    {
        var (batcher, executor, _) = Create(o => o.MaxBatchSize = 4);
        var tasks = Enumerable.Range(1, 4).Select(i => batcher.EnqueueAsync(i, 0, null, default).AsTask()).ToArray();

        var results = await Task.WhenAll(tasks).WaitAsync(Wait); // no fake time advanced: only the size can dispatch

        Assert.Equal(new[] { 11, 21, 31, 41 }, results);
        Assert.Equal(new[] { 1, 2, 3, 4 }, Assert.Single(executor.Batches));
    }

    [Fact]
    public async Task PartialBatch_IsDispatchedWhenMaxDelayHasPassedSinceItsFirstRequest()
    {
        var (batcher, executor, time) = Create();
        var first = batcher.EnqueueAsync(1, 0, null, default).AsTask();
        var second = batcher.EnqueueAsync(2, 0, null, default).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(9));
        var third = batcher.EnqueueAsync(3, 0, null, default).AsTask();
        Assert.False(first.IsCompleted);

        var run = await NextRun(executor, () => { time.Advance(TimeSpan.FromMilliseconds(1)); return Task.CompletedTask; });

        Assert.Equal(new[] { 1, 2, 3 }, run);
        Assert.Equal(new[] { 11, 21, 31 }, await Task.WhenAll(first, second, third).WaitAsync(Wait));
    }

    [Fact]
    public async Task PreferredBatchSize_DispatchesAtOnceWhenNothingElseWaits()
    {
        var (batcher, executor, _) = Create(o => o.PreferredBatchSizes.Add(2));
        var tasks = new[] { batcher.EnqueueAsync(1, 0, null, default).AsTask(), batcher.EnqueueAsync(2, 0, null, default).AsTask() };
        Assert.Equal(new[] { 11, 21 }, await Task.WhenAll(tasks).WaitAsync(Wait));
        Assert.True(executor.Batches.All(b => b.Length <= 2));
    }

    [Fact]
    public async Task FullQueue_RejectsImmediatelyWithRetryAfter()
    {
        var (batcher, executor, _) = Create(o => { o.MaxQueueSize = 3; o.MaxBatchSize = 1; });
        executor.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = batcher.EnqueueAsync(0, 0, null, default).AsTask();
        await NextRun(executor); // request 0 left the queue and runs
        var queued = Enumerable.Range(1, 3).Select(i => batcher.EnqueueAsync(i, 0, null, default).AsTask()).ToArray();

        var rejected = batcher.EnqueueAsync(99, 0, null, default);

        Assert.True(rejected.IsCompleted);
        var ex = await Assert.ThrowsAsync<ModelOverloadedException>(async () => await rejected);
        Assert.True(ex.RetryAfter > TimeSpan.Zero);
        Assert.Contains("MaxQueueSize", ex.Message);
        Assert.Equal(3, batcher.QueueDepth);
        executor.Gate.SetResult();
        Assert.Equal(new[] { 11, 21, 31 }, await Task.WhenAll(queued).WaitAsync(Wait));
        Assert.Equal(1, batcher.Statistics.Rejected);
        Assert.Equal(3, batcher.Statistics.DeepestQueue);
        await running;
    }

    [Fact]
    public async Task Deadline_FiresOnTime_WhileQueued_AndWhileItsBatchRuns()
    {
        var (batcher, executor, time) = Create(o => { o.MaxBatchSize = 1; o.DefaultTimeout = TimeSpan.FromMilliseconds(100); });
        executor.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The ValueTasks themselves are observed: a Task made by AsTask() from a pooled request completes one
        // thread-pool hop after the answer, the ValueTask at once.
        var running = batcher.EnqueueAsync(1, 0, null, default);
        await NextRun(executor);
        var queued = batcher.EnqueueAsync(2, 0, new PredictionOptions { Timeout = TimeSpan.FromMilliseconds(50) }, default);

        time.Advance(TimeSpan.FromMilliseconds(49));
        Assert.False(queued.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(queued.IsCompleted); // the timer completed it inside Advance: on time to the tick
        var queuedError = await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => queued.AsTask());
        Assert.Equal(TimeSpan.FromMilliseconds(50), queuedError.Timeout);

        time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(running.IsCompleted); // its batch is still running (gate closed)
        await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => running.AsTask());
        Assert.Equal(1, batcher.QueueDepth); // the bound counts entries until a worker dequeues them: a real memory bound
        executor.Gate.SetResult();
        await batcher.StopAsync(TimeSpan.FromSeconds(1)).WaitAsync(Wait);
        Assert.Equal(0, batcher.QueueDepth);
        Assert.Equal(2, batcher.Statistics.TimedOut);
    }

    [Fact]
    public async Task CallTimeout_CanOnlyShortenTheDefault()
    {
        var (batcher, executor, time) = Create(o => { o.MaxBatchSize = 1; o.DefaultTimeout = TimeSpan.FromMilliseconds(100); });
        executor.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var request = batcher.EnqueueAsync(1, 0, new PredictionOptions { Timeout = TimeSpan.FromSeconds(5) }, default).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(100));
        var error = await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => request);
        Assert.Equal(TimeSpan.FromMilliseconds(100), error.Timeout);
        executor.Gate.SetResult();
    }

    [Fact]
    public async Task CanceledWhileQueued_IsRemovedBeforeItsBatchRuns()
    {
        var (batcher, executor, time) = Create();
        using var cts = new CancellationTokenSource();
        var keep = batcher.EnqueueAsync(1, 0, null, default).AsTask();
        var cancel = batcher.EnqueueAsync(2, 0, null, cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancel);

        var run = await NextRun(executor, () => { time.Advance(TimeSpan.FromMilliseconds(10)); return Task.CompletedTask; });

        Assert.Equal(new[] { 1 }, run);
        Assert.Equal(11, await keep.WaitAsync(Wait));
        Assert.Equal(1, batcher.Statistics.Canceled);
    }

    [Fact]
    public async Task CanceledWhileRunning_OnlyThatRequestIsCanceled()
    {
        var (batcher, executor, _) = Create(o => o.MaxBatchSize = 3);
        executor.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cts = new CancellationTokenSource();
        var a = batcher.EnqueueAsync(1, 0, null, default).AsTask();
        var b = batcher.EnqueueAsync(2, 0, null, cts.Token).AsTask();
        var c = batcher.EnqueueAsync(3, 0, null, default).AsTask();
        var run = await NextRun(executor);
        Assert.Equal(new[] { 1, 2, 3 }, run);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b);
        executor.Gate.SetResult();

        Assert.Equal(new[] { 11, 31 }, await Task.WhenAll(a, c).WaitAsync(Wait));
    }

    [Fact]
    public async Task PoisonRequest_IsIsolatedByBisecting_OthersSucceed()
    {
        var (batcher, executor, _) = Create(o => o.MaxBatchSize = 8);
        executor.Poison.Add(5);
        var tasks = Enumerable.Range(1, 8).Select(i => batcher.EnqueueAsync(i, 0, null, default).AsTask()).ToArray();

        await Task.WhenAny(Task.WhenAll(tasks), Task.Delay(Wait));

        for (var i = 0; i < 8; i++)
        {
            if (i + 1 == 5)
            {
                var error = await Assert.ThrowsAsync<ModelInferenceException>(() => tasks[i]);
                Assert.Contains("poison 5", error.Message);
            }
            else
            {
                Assert.Equal(FakeExecutor.Expected(i + 1), await tasks[i]);
            }
        }

        Assert.Equal(3, batcher.Statistics.PoisonSplits); // 8 → 4 → 2 → 1
        Assert.Equal(1, batcher.Statistics.Failed);
    }

    [Fact]
    public async Task HighPriority_RunsFirst_AndLowIsNotStarved()
    {
        var (batcher, executor, _) = Create(o => { o.MaxBatchSize = 1; o.StarvationLimit = 2; });
        executor.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = batcher.EnqueueAsync(0, 0, null, default).AsTask();
        await NextRun(executor);
        var low = batcher.EnqueueAsync(100, 0, new PredictionOptions { Priority = PredictionPriority.Low }, default).AsTask();
        var high = Enumerable.Range(1, 6).Select(i => batcher.EnqueueAsync(i, 0, new PredictionOptions { Priority = PredictionPriority.High }, default).AsTask()).ToArray();

        executor.Gate.SetResult();
        await Task.WhenAll(high.Append(low).Append(blocker)).WaitAsync(Wait);

        var order = executor.Batches.Select(b => b[0]).ToList();
        Assert.Equal(0, order[0]);
        Assert.Equal(new[] { 1, 2, 100 }, order.Skip(1).Take(3)); // two high, then the waiting low (StarvationLimit = 2)
        Assert.Equal(new[] { 3, 4, 5, 6 }, order.Skip(4));
    }

    [Fact]
    public async Task DelayAction_ServesLateRequestsAfterOnTimeOnes()
    {
        var (batcher, executor, time) = Create(o => { o.MaxBatchSize = 1; o.DeadlineAction = DeadlineAction.Delay; o.DefaultTimeout = TimeSpan.FromMilliseconds(20); });
        executor.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = batcher.EnqueueAsync(0, 0, null, default).AsTask();
        await NextRun(executor);
        var late = batcher.EnqueueAsync(1, 0, null, default).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(30)); // 1 is now past its deadline, but kept
        var onTime = batcher.EnqueueAsync(2, 0, null, default).AsTask();
        Assert.False(late.IsCompleted);

        executor.Gate.SetResult();
        Assert.Equal(new[] { 1, 11, 21 }, await Task.WhenAll(blocker, late, onTime).WaitAsync(Wait));
        Assert.Equal(new[] { 0, 2, 1 }, executor.Batches.Select(b => b[0]));
    }

    [Fact]
    public async Task DifferentBuckets_NeverShareARun()
    {
        var (batcher, executor, time) = Create(o => o.MaxBatchSize = 8);
        executor.Bucket = i => i % 2;
        var tasks = Enumerable.Range(1, 6).Select(i => batcher.EnqueueAsync(i, executor.BucketOf(i), null, default).AsTask()).ToArray();
        time.Advance(TimeSpan.FromMilliseconds(10));

        Assert.Equal(new[] { 11, 21, 31, 41, 51, 61 }, await Task.WhenAll(tasks).WaitAsync(Wait));
        Assert.All(executor.Batches, b => Assert.Single(b.Select(x => x % 2).Distinct()));
    }

    [Fact]
    public async Task FixedBatchModel_RunsRequestsIndividuallyAcrossWorkers()
    {
        var (batcher, executor, _) = Create(o => o.MaxBatchSize = 32, workers: 2, maxRows: 1);
        var tasks = Enumerable.Range(1, 10).Select(i => batcher.EnqueueAsync(i, 0, null, default).AsTask()).ToArray();
        Assert.Equal(Enumerable.Range(1, 10).Select(FakeExecutor.Expected), await Task.WhenAll(tasks).WaitAsync(Wait));
        Assert.All(executor.Batches, b => Assert.Single(b));
        Assert.Equal(1, batcher.EffectiveMaxBatchSize);
    }

    [Fact]
    public async Task Stop_DrainsQueuedRequests_AndRefusesNewOnes()
    {
        var (batcher, _, time) = Create();
        var queued = Enumerable.Range(1, 3).Select(i => batcher.EnqueueAsync(i, 0, null, default).AsTask()).ToArray();

        var stop = batcher.StopAsync(TimeSpan.FromSeconds(5));
        var refused = batcher.EnqueueAsync(9, 0, null, default);
        time.Advance(TimeSpan.FromMilliseconds(10)); // the forming batch reaches MaxDelay and runs
        await stop.WaitAsync(Wait);

        Assert.Equal(new[] { 11, 21, 31 }, await Task.WhenAll(queued));
        var ex = await Assert.ThrowsAsync<ModelNotReadyException>(async () => await refused);
        Assert.Contains("shutting down", ex.Message);
    }

    [Fact]
    public async Task Stop_AfterDrainTimeout_FailsWhatIsLeft_NothingPending()
    {
        var (batcher, executor, time) = Create(o => o.MaxBatchSize = 1);
        executor.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); // never released
        var running = batcher.EnqueueAsync(1, 0, null, default).AsTask();
        await NextRun(executor);
        var queued = Enumerable.Range(2, 3).Select(i => batcher.EnqueueAsync(i, 0, null, default).AsTask()).ToArray();

        var stop = batcher.StopAsync(TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(1));
        await stop.WaitAsync(Wait);

        foreach (var task in queued.Append(running))
        {
            var error = await Assert.ThrowsAsync<ModelNotReadyException>(() => task);
            Assert.Contains("did not run this request", error.Message);
        }

        Assert.Equal(0, batcher.QueueDepth);
        batcher.Dispose();
    }
}

public class DynamicBatcherStressTests
{
    [Fact]
    public async Task ManyClosedLoopCallers_WorkConserving_AllComplete()
    {
        // Real clock, 2 workers, 32 callers in tight loops: exercises the idle wake-up races (a worker that died here
        // once left every request pending).
        var executor = new FakeExecutor(TimeProvider.System);
        var batcher = new DynamicBatcher<int, int>("stress", new BatchingOptions { MaxBatchSize = 64, MaxDelay = TimeSpan.FromMilliseconds(20), MaxQueueSize = 4096, DispatchWhenIdle = true }, 2, executor, TimeProvider.System);
        var callers = Enumerable.Range(0, 32).Select(c => Task.Run(async () =>
        {
            for (var i = 0; i < 500; i++)
            {
                var id = (c * 1000) + i;
                Assert.Equal(FakeExecutor.Expected(id), await batcher.EnqueueAsync(id, 0, null, default));
            }
        }));

        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(16_000, batcher.Statistics.Succeeded);
        await batcher.StopAsync(TimeSpan.FromSeconds(1));
        Assert.True(batcher.WorkersExited);
    }

    [Fact]
    public async Task ClosedLoopCallers_FillTheBatches_WhenEachBatchLeavesTheModelIdle()
    {
        // 64 callers that each send their next request when the last is answered, one worker, a model that takes
        // no time, work-conserving dispatch: every batch ends with the model idle. The answers queue the callers'
        // continuations on the worker's thread; the first caller's arrival rings the doorbell. Woken on that thread's
        // local (LIFO) queue, the collector ran before the other 63 callers and dispatched each request alone (mean
        // batch 1.0-1.2 in `load --batcher-only`, a third of the throughput); woken through the global queue, the
        // callers already in flight join the batch.
        var time = new FakeTimeProvider(); // the batch timer never fires: only a full batch or the idle model dispatch
        var executor = new FakeExecutor(time);
        var batcher = new DynamicBatcher<int, int>("closed-loop", new BatchingOptions { MaxBatchSize = 32, MaxDelay = TimeSpan.FromMilliseconds(10), DefaultTimeout = Timeout.InfiniteTimeSpan, DispatchWhenIdle = true }, 1, executor, time);
        const int Callers = 64, PerCaller = 400;
        var callers = Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            for (var i = 0; i < PerCaller; i++)
            {
                var input = (c * PerCaller) + i;
                Assert.Equal(FakeExecutor.Expected(input), await batcher.EnqueueAsync(input, 0, null, default));
            }
        })).ToArray();

        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(30));

        var meanBatch = (double)batcher.Statistics.BatchedItems / batcher.Statistics.Batches;
        // Alone on the machine this runs at mean batch 20-32; with the other test assemblies running on the same 2 cores
        // it fell to 3.2 once. The defect gives 1.0-1.2, so 2 still tells them apart.
        Assert.True(meanBatch >= 2, $"mean batch {meanBatch:0.0} over {batcher.Statistics.Batches} batches: requests in flight did not join the batches");
        Assert.Equal(Callers * PerCaller, executor.Batches.Sum(b => b.Length));
        await batcher.StopAsync(TimeSpan.FromSeconds(1));
    }
}
