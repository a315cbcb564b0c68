using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Batching;

namespace ModelInService.Tests.Batching;

/// <summary>
/// The batcher's requests are pooled <see cref="System.Threading.Tasks.Sources.IValueTaskSource{TResult}"/>s, reused as
/// soon as a caller has read its answer. Random schedules of enqueues, reads (which recycle), cancellations, deadlines
/// and time, on both queue structures: every request is answered exactly once with its own answer or the right typed
/// error, a stale read of an old ValueTask never returns another request's answer, nothing is lost at stop, the bound
/// holds, and requests really are reused.
/// </summary>
public class PooledRequestProperties
{
    private const int Schedules = 2_000;

    public enum Op { Enqueue, Read, Cancel, Advance, Yield }

    public sealed record Step(Op Op, int Value, int Priority, bool Cancelable, int TimeoutMs);

    public sealed record Schedule(int Workers, int MaxBatch, int MaxQueue, int MaxDelayMs, int DefaultTimeoutMs, bool DispatchWhenIdle, bool Channels, Step[] Steps)
    {
        public override string ToString() =>
            $"workers={Workers} maxBatch={MaxBatch} queue={MaxQueue} delay={MaxDelayMs}ms timeout={DefaultTimeoutMs}ms idle={DispatchWhenIdle} channels={Channels} steps=[{string.Join(", ", Steps.Select(s => $"{s.Op}({s.Value},p{s.Priority}{(s.Cancelable ? ",c" : "")}{(s.TimeoutMs > 0 ? ",t" + s.TimeoutMs : "")})"))}]";
    }

    private static readonly Gen<Step> Steps = Gen.Frequency(
        (6, from priority in Gen.Choose(0, 2)
            from cancelable in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
            from timeout in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Choose(1, 20)))
            select new Step(Op.Enqueue, 0, priority, cancelable, timeout)),
        (4, Gen.Choose(0, 1000).Select(i => new Step(Op.Read, i, 0, false, 0))),
        (1, Gen.Choose(0, 1000).Select(i => new Step(Op.Cancel, i, 0, false, 0))),
        (2, Gen.Choose(0, 8).Select(ms => new Step(Op.Advance, ms, 0, false, 0))),
        (2, Gen.Constant(new Step(Op.Yield, 0, 0, false, 0))));

    private static readonly Arbitrary<Schedule> Arbitrary = (
        from workers in Gen.Choose(1, 3)
        from maxBatch in Gen.Choose(1, 6)
        from queue in Gen.Choose(1, 8)
        from delay in Gen.Choose(0, 5)
        from timeout in Gen.Elements(0, 10, 40)
        from idle in Gen.Elements(false, true)
        from channels in Gen.Elements(true, false)
        from steps in Gen.ArrayOf(Steps).Select(s => s.Length > 40 ? s[..40] : s)
        select new Schedule(workers, maxBatch, queue, delay, timeout, idle, channels, steps)).ToArbitrary();

    [Fact]
    public void PooledRequests_AreAnsweredOnce_NeverWithAStaleAnswer_OverRandomSchedules()
    {
        long requests = 0, created = 0;
        Prop.ForAll(Arbitrary, schedule =>
        {
            var (sent, made) = Task.Run(() => RunAsync(schedule)).GetAwaiter().GetResult();
            Interlocked.Add(ref requests, sent);
            Interlocked.Add(ref created, made);
            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(Schedules).WithQuietOnSuccess(true));

        Assert.True(created < requests, $"{created} request objects for {requests} requests: the pool is not reused");
    }

    private sealed class Call(int id, ValueTask<int> pending, CancellationTokenSource? cancel, Step step)
    {
        public int Id { get; } = id;

        public ValueTask<int> Pending { get; } = pending;

        public CancellationTokenSource? Cancel { get; } = cancel;

        public Step Step { get; } = step;

        /// <summary>Set once the caller read the answer (the request may be reused from then on).</summary>
        public Task<int>? Answer { get; set; }
    }

    private static async Task<(int Sent, long Created)> RunAsync(Schedule s)
    {
        var time = new FakeTimeProvider();
        var executor = new FakeExecutor(time);
        var options = new BatchingOptions
        {
            MaxBatchSize = s.MaxBatch,
            MaxQueueSize = s.MaxQueue,
            MaxDelay = TimeSpan.FromMilliseconds(s.MaxDelayMs),
            DefaultTimeout = s.DefaultTimeoutMs == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(s.DefaultTimeoutMs),
            DispatchWhenIdle = s.DispatchWhenIdle,
        };
        var batcher = new DynamicBatcher<int, int>("pooled", options, s.Workers, executor, time, s.Channels ? BatchQueueKind.Channel : BatchQueueKind.ConcurrentQueue);
        var calls = new List<Call>();
        var errors = new List<string>();
        foreach (var step in s.Steps)
        {
            switch (step.Op)
            {
                case Op.Enqueue:
                    var id = calls.Count + 1;
                    var cts = step.Cancelable ? new CancellationTokenSource() : null;
                    var call = new PredictionOptions { Priority = (PredictionPriority)step.Priority, Timeout = step.TimeoutMs > 0 ? TimeSpan.FromMilliseconds(step.TimeoutMs) : null };
                    calls.Add(new Call(id, batcher.EnqueueAsync(id, 0, call, cts?.Token ?? default), cts, step));
                    break;
                case Op.Read:
                    // A caller reads its answer as soon as it is there: its request goes back to the pool.
                    if (calls.Count > 0 && calls[step.Value % calls.Count] is { Answer: null } read && read.Pending.IsCompleted)
                    {
                        read.Answer = read.Pending.AsTask();
                    }

                    break;
                case Op.Cancel:
                    if (calls.Count > 0)
                    {
                        await (calls[step.Value % calls.Count].Cancel?.CancelAsync() ?? Task.CompletedTask);
                    }

                    break;
                case Op.Advance:
                    time.Advance(TimeSpan.FromMilliseconds(step.Value));
                    break;
                default:
                    await Task.Yield();
                    break;
            }
        }

        var stop = batcher.StopAsync(TimeSpan.FromMilliseconds(20));
        var guard = Stopwatch.StartNew();
        while (!stop.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.Yield();
            if (guard.Elapsed > TimeSpan.FromSeconds(20))
            {
                throw new InvalidOperationException($"StopAsync hung: {s}");
            }
        }

        await stop;
        foreach (var call in calls)
        {
            if (call.Answer is null)
            {
                if (!call.Pending.IsCompleted)
                {
                    errors.Add($"request {call.Id} still pending after stop");
                    continue;
                }

                call.Answer = call.Pending.AsTask();
            }
        }

        foreach (var call in calls)
        {
            var answer = call.Answer!;
            if (answer.IsCompletedSuccessfully)
            {
                if (answer.Result != FakeExecutor.Expected(call.Id))
                {
                    errors.Add($"request {call.Id} got {answer.Result}, the answer of another request");
                }
            }
            else if (answer.IsCanceled)
            {
                if (call.Cancel is not { IsCancellationRequested: true })
                {
                    errors.Add($"request {call.Id} canceled without being canceled by its caller");
                }
            }
            else if (answer.Exception?.InnerException is not (ModelOverloadedException or ModelNotReadyException or ModelDeadlineExceededException))
            {
                errors.Add($"request {call.Id} failed with {answer.Exception?.InnerException}");
            }

            // A stale second read of an answered ValueTask: its own answer again or an error, never someone else's.
            try
            {
                var again = call.Pending.IsCompletedSuccessfully ? call.Pending.Result : FakeExecutor.Expected(call.Id);
                if (again != FakeExecutor.Expected(call.Id))
                {
                    errors.Add($"a stale read of request {call.Id} returned {again}");
                }
            }
            catch (InvalidOperationException)
            {
                // The request was reused: the old ValueTask is refused.
            }
        }

        var stats = batcher.Statistics;
        var counted = stats.Succeeded + stats.Rejected + stats.TimedOut + stats.Canceled + stats.Failed;
        if (counted != calls.Count)
        {
            errors.Add($"outcomes counted {counted} times for {calls.Count} requests");
        }

        if (stats.DeepestQueue > s.MaxQueue)
        {
            errors.Add($"queue reached {stats.DeepestQueue} > bound {s.MaxQueue}");
        }

        if (batcher.QueueDepth != 0 || !batcher.WorkersExited)
        {
            errors.Add($"queue depth {batcher.QueueDepth}, workers exited {batcher.WorkersExited} after stop");
        }

        var created = batcher.RequestsCreated;
        batcher.Dispose();
        foreach (var call in calls)
        {
            call.Cancel?.Dispose();
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"{string.Join("; ", errors)} | {s}");
        }

        return (calls.Count, created);
    }
}
