using Microsoft.Extensions.Time.Testing;
using ModelInService.Batching;

namespace ModelInService.Tests.Batching;

/// <summary>The per-priority queues: a write that cannot be queued is answered at once, on both structures.</summary>
public class BatcherQueueTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task FullQueues_AnswerOverloadedAtOnce_WhateverThePriority_TheBoundCountsAllPriorities(bool channels)
    {
        var kind = channels ? BatchQueueKind.Channel : BatchQueueKind.ConcurrentQueue;
        var time = new FakeTimeProvider();
        var executor = new FakeExecutor(time) { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var batcher = new DynamicBatcher<int, int>("fake", new BatchingOptions { MaxBatchSize = 1, MaxQueueSize = 3, DefaultTimeout = Timeout.InfiniteTimeSpan }, 1, executor, time, kind);
        Assert.Equal(kind, batcher.QueueKind);
        var running = batcher.EnqueueAsync(0, 0, null, default).AsTask();
        await executor.StartedRuns.Reader.ReadAsync().AsTask().WaitAsync(Wait); // 0 left the queue and runs
        var queued = new[]
        {
            batcher.EnqueueAsync(1, 0, new PredictionOptions { Priority = PredictionPriority.High }, default).AsTask(),
            batcher.EnqueueAsync(2, 0, null, default).AsTask(),
            batcher.EnqueueAsync(3, 0, new PredictionOptions { Priority = PredictionPriority.Low }, default).AsTask(),
        };

        foreach (var priority in new[] { PredictionPriority.High, PredictionPriority.Normal, PredictionPriority.Low })
        {
            var refused = batcher.EnqueueAsync(99, 0, new PredictionOptions { Priority = priority }, default);
            Assert.True(refused.IsCompleted); // answered at once: the caller never waits for room
            var error = await Assert.ThrowsAsync<ModelOverloadedException>(async () => await refused);
            Assert.True(error.RetryAfter > TimeSpan.Zero);
        }

        Assert.Equal(3, batcher.QueueDepth);
        Assert.Equal(3, batcher.Statistics.Rejected);
        executor.Gate.SetResult();
        Assert.Equal(new[] { 11, 21, 31 }, await Task.WhenAll(queued).WaitAsync(Wait));
        Assert.Equal(1, await running.WaitAsync(Wait));
        await batcher.StopAsync(TimeSpan.FromSeconds(1)).WaitAsync(Wait);
        Assert.Equal(3, batcher.Statistics.DeepestQueue);
        batcher.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AfterStop_TheRefusedWrite_IsAnsweredShuttingDownAtOnce(bool channels)
    {
        var kind = channels ? BatchQueueKind.Channel : BatchQueueKind.ConcurrentQueue;
        var time = new FakeTimeProvider();
        var batcher = new DynamicBatcher<int, int>("fake", new BatchingOptions { MaxDelay = TimeSpan.Zero }, 1, new FakeExecutor(time), time, kind);
        Assert.Equal(11, await batcher.EnqueueAsync(1, 0, null, default).AsTask().WaitAsync(Wait));
        await batcher.StopAsync(TimeSpan.FromSeconds(1)).WaitAsync(Wait);

        var refused = batcher.EnqueueAsync(2, 0, null, default);

        Assert.True(refused.IsCompleted);
        var error = await Assert.ThrowsAsync<ModelNotReadyException>(async () => await refused);
        Assert.Contains("shutting down", error.Message);
        Assert.Equal(0, batcher.QueueDepth);
        batcher.Dispose();
    }

    [Fact]
    public async Task Requests_AreReused_AfterTheirCallersReadTheAnswers()
    {
        var time = new FakeTimeProvider();
        var batcher = new DynamicBatcher<int, int>("fake", new BatchingOptions { MaxDelay = TimeSpan.Zero }, 1, new FakeExecutor(time), time);
        for (var i = 1; i <= 100; i++)
        {
            Assert.Equal(FakeExecutor.Expected(i), await batcher.EnqueueAsync(i, 0, null, default).AsTask().WaitAsync(Wait));
        }

        Assert.True(batcher.RequestsCreated <= 2, $"{batcher.RequestsCreated} request objects for 100 sequential requests");
        await batcher.StopAsync(TimeSpan.FromSeconds(1)).WaitAsync(Wait);
        batcher.Dispose();
    }
}
