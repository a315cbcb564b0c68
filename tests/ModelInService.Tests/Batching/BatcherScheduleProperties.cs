using System.Diagnostics;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Batching;

namespace ModelInService.Tests.Batching;

/// <summary>
/// Random arrival schedules, batch limits, delays, deadlines, cancellations, model failures and shutdown points,
/// run against the real batcher with a fake model on fake time. Whatever the interleaving of the worker threads:
/// every request completes exactly once, with its own answer or the right typed error; the queue never exceeds its
/// bound; no run exceeds the batch limit; stopping leaves nothing pending and no worker running.
/// </summary>
public class BatcherScheduleProperties
{
    /// <summary>Schedules generated in the default test run (the issue asks for at least 10,000).</summary>
    private const int Schedules = 10_000;

    public enum StepKind { Enqueue, Advance, Cancel, Yield }

    public sealed record ScheduleStep(StepKind Kind, int Value, int Priority, bool Poison, bool Cancelable, int TimeoutMs);

    public sealed record Schedule(
        int Workers, int MaxBatch, int MaxRowsPerRun, int MaxQueue, int MaxDelayMs, int DefaultTimeoutMs, bool DelayAction,
        int ComputeMs, int StarvationLimit, bool Buckets, ScheduleStep[] Steps, int StopAt, int DrainMs, bool DispatchWhenIdle)
    {
        public override string ToString() =>
            $"workers={Workers} maxBatch={MaxBatch} rows={MaxRowsPerRun} queue={MaxQueue} delay={MaxDelayMs}ms timeout={DefaultTimeoutMs}ms delayAction={DelayAction} compute={ComputeMs}ms stopAt={StopAt} drain={DrainMs}ms steps=[{string.Join(", ", Steps.Select(s => s.Kind == StepKind.Enqueue ? $"E(p{s.Priority}{(s.Poison ? ",poison" : "")}{(s.Cancelable ? ",c" : "")}{(s.TimeoutMs > 0 ? ",t" + s.TimeoutMs : "")})" : $"{s.Kind}({s.Value})"))}]";
    }

    private static readonly Gen<ScheduleStep> Steps = Gen.Frequency(
        (6, from priority in Gen.Choose(0, 2)
            from poison in Gen.Frequency((9, Gen.Constant(false)), (1, Gen.Constant(true)))
            from cancelable in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
            from timeout in Gen.Frequency((3, Gen.Constant(0)), (1, Gen.Choose(1, 40)))
            select new ScheduleStep(StepKind.Enqueue, 0, priority, poison, cancelable, timeout)),
        (3, Gen.Choose(0, 15).Select(ms => new ScheduleStep(StepKind.Advance, ms, 0, false, false, 0))),
        (1, Gen.Choose(0, 1000).Select(i => new ScheduleStep(StepKind.Cancel, i, 0, false, false, 0))),
        (2, Gen.Constant(new ScheduleStep(StepKind.Yield, 0, 0, false, false, 0))));

    private static readonly Arbitrary<Schedule> Arbitrary = (
        from workers in Gen.Choose(1, 3)
        from maxBatch in Gen.Choose(1, 8)
        from rows in Gen.Elements(1, 4, int.MaxValue)
        from queue in Gen.Choose(1, 12)
        from delay in Gen.Choose(0, 10)
        from timeout in Gen.Elements(0, 5, 20, 60)
        from delayAction in Gen.Elements(false, false, true)
        from compute in Gen.Elements(0, 0, 1, 3)
        from starvation in Gen.Choose(1, 4)
        from buckets in Gen.Elements(false, true)
        from steps in Gen.ArrayOf(Steps).Select(s => s.Length > 30 ? s[..30] : s)
        from stopAt in Gen.Choose(0, 30)
        from drain in Gen.Elements(0, 5, 50)
        from idle in Gen.Elements(false, true)
        select new Schedule(workers, maxBatch, rows, queue, delay, timeout, delayAction, compute, starvation, buckets, steps, stopAt, drain, idle)).ToArbitrary();

    [Fact]
    public void EveryRequestCompletesExactlyOnce_WithinBounds_OverRandomSchedules()
    {
        var watch = Stopwatch.StartNew();
        var ran = 0;
        Prop.ForAll(Arbitrary, schedule =>
        {
            Interlocked.Increment(ref ran);
            return Task.Run(() => RunAsync(schedule)).GetAwaiter().GetResult();
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(Schedules).WithQuietOnSuccess(true));
        Assert.Equal(Schedules, ran);
        Assert.True(watch.Elapsed < TimeSpan.FromMinutes(5), $"{Schedules} schedules took {watch.Elapsed}");
    }

    /// <summary>One request. <see cref="Call"/> is read after stop (a Task made by AsTask() from a pooled request completes one thread-pool hop after the answer).</summary>
    private sealed record Tracked(int Id, ValueTask<int> Call, CancellationTokenSource? Cancel, ScheduleStep ScheduleStep)
    {
        public Task<int> Task { get; set; } = null!;
    }

    private static async Task<bool> RunAsync(Schedule s)
    {
        var time = new FakeTimeProvider();
        var executor = new FakeExecutor(time, s.MaxRowsPerRun) { ComputeTime = TimeSpan.FromMilliseconds(s.ComputeMs) };
        if (s.Buckets)
        {
            executor.Bucket = id => id % 3;
        }

        var options = new BatchingOptions
        {
            MaxBatchSize = s.MaxBatch,
            MaxQueueSize = s.MaxQueue,
            MaxDelay = TimeSpan.FromMilliseconds(s.MaxDelayMs),
            DefaultTimeout = s.DefaultTimeoutMs == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(s.DefaultTimeoutMs),
            DeadlineAction = s.DelayAction ? DeadlineAction.Delay : DeadlineAction.Reject,
            StarvationLimit = s.StarvationLimit,
            DispatchWhenIdle = s.DispatchWhenIdle,
        };
        var batcher = new DynamicBatcher<int, int>("fake", options, s.Workers, executor, time);
        var tracked = new List<Tracked>();
        Task? stop = null;
        for (var i = 0; i < s.Steps.Length; i++)
        {
            if (i == s.StopAt)
            {
                stop = batcher.StopAsync(TimeSpan.FromMilliseconds(s.DrainMs));
            }

            var step = s.Steps[i];
            switch (step.Kind)
            {
                case StepKind.Enqueue:
                    var id = tracked.Count + 1;
                    if (step.Poison)
                    {
                        executor.Poison.Add(id);
                    }

                    var cts = step.Cancelable ? new CancellationTokenSource() : null;
                    var call = step.TimeoutMs > 0 || step.Priority != 1
                        ? new PredictionOptions { Priority = (PredictionPriority)step.Priority, Timeout = step.TimeoutMs > 0 ? TimeSpan.FromMilliseconds(step.TimeoutMs) : null }
                        : null;
                    tracked.Add(new Tracked(id, batcher.EnqueueAsync(id, executor.BucketOf(id), call, cts?.Token ?? default), cts, step));
                    break;
                case StepKind.Advance:
                    time.Advance(TimeSpan.FromMilliseconds(step.Value));
                    break;
                case StepKind.Cancel:
                    if (tracked.Count > 0)
                    {
                        tracked[step.Value % tracked.Count].Cancel?.Cancel();
                    }

                    break;
                default:
                    await Task.Yield();
                    break;
            }
        }

        stop ??= batcher.StopAsync(TimeSpan.FromMilliseconds(s.DrainMs));
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
        var errors = new List<string>();
        foreach (var r in tracked)
        {
            if (!r.Call.IsCompleted)
            {
                errors.Add($"request {r.Id} still pending after stop");
            }

            r.Task = r.Call.AsTask();
        }

        // Answered rows (what the monitor records): each run row once, after its run succeeded; never a poison row.
        var answered = executor.AnsweredRows.GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        foreach (var (row, times) in answered)
        {
            if (times != 1)
            {
                errors.Add($"row {row} reported answered {times} times");
            }
        }

        foreach (var r in tracked)
        {
            if (r.Task.IsCompletedSuccessfully && !answered.ContainsKey(r.Id))
            {
                errors.Add($"request {r.Id} succeeded but its row was not reported answered");
            }

            if (r.ScheduleStep.Poison && answered.ContainsKey(r.Id))
            {
                errors.Add($"poison request {r.Id} was reported answered");
            }
        }

        foreach (var r in tracked)
        {
            if (!r.Task.IsCompleted)
            {
                errors.Add($"request {r.Id} still pending after stop");
                continue;
            }

            if (r.Task.IsCompletedSuccessfully)
            {
                if (r.Task.Result != FakeExecutor.Expected(r.Id))
                {
                    errors.Add($"request {r.Id} got {r.Task.Result}, the answer of another request");
                }

                if (r.ScheduleStep.Poison)
                {
                    errors.Add($"poison request {r.Id} succeeded");
                }
            }
            else if (r.Task.IsCanceled)
            {
                if (r.Cancel is null || !r.Cancel.IsCancellationRequested)
                {
                    errors.Add($"request {r.Id} canceled without being canceled by its caller");
                }
            }
            else
            {
                var error = r.Task.Exception!.InnerException!;
                switch (error)
                {
                    case ModelOverloadedException:
                    case ModelNotReadyException:
                        break;
                    case ModelDeadlineExceededException:
                        if (r.ScheduleStep.TimeoutMs == 0 && s.DefaultTimeoutMs == 0)
                        {
                            errors.Add($"request {r.Id} timed out without a deadline");
                        }

                        if (s.DelayAction)
                        {
                            errors.Add($"request {r.Id} was rejected at its deadline under DeadlineAction.Delay");
                        }

                        break;
                    case ModelInferenceException inference:
                        if (!r.ScheduleStep.Poison || inference.Message != $"poison {r.Id}")
                        {
                            errors.Add($"request {r.Id} failed with another request's model error: {inference.Message}");
                        }

                        break;
                    default:
                        errors.Add($"request {r.Id} failed with unexpected {error.GetType().Name}: {error.Message}");
                        break;
                }
            }
        }

        var stats = batcher.Statistics;
        var counted = stats.Succeeded + stats.Rejected + stats.TimedOut + stats.Canceled + stats.Failed;
        if (counted != tracked.Count)
        {
            errors.Add($"outcomes counted {counted} times for {tracked.Count} requests");
        }

        if (stats.DeepestQueue > s.MaxQueue)
        {
            errors.Add($"queue reached {stats.DeepestQueue} > bound {s.MaxQueue}");
        }

        var limit = Math.Min(s.MaxBatch, s.MaxRowsPerRun);
        if (executor.Batches.Any(b => b.Length > limit))
        {
            errors.Add($"a run had {executor.Batches.Max(b => b.Length)} rows > limit {limit}");
        }

        if (s.Buckets && executor.Batches.Any(b => b.Select(x => x % 3).Distinct().Count() > 1))
        {
            errors.Add("rows of different buckets shared a run");
        }

        if (batcher.QueueDepth != 0)
        {
            errors.Add($"queue depth {batcher.QueueDepth} after stop");
        }

        if (!batcher.WorkersExited)
        {
            errors.Add("a worker is still running after stop");
        }

        batcher.Dispose();
        foreach (var r in tracked)
        {
            r.Cancel?.Dispose();
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"{string.Join("; ", errors)} | {s}");
        }

        return true;
    }
}
