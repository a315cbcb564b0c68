using System.Diagnostics;
using System.Globalization;
using ModelInService.Batching;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// Diagnostic: the library's <see cref="DynamicBatcher{TInput, TOutput}"/> driven by the same 64 closed-loop callers,
/// with an executor that does no model work (optionally spinning a fixed time per batch). What it measures is the
/// cost of the batching machinery alone: queueing, waking workers, deadline timers, completing requests.
/// <c>load --batcher-only [--seconds S] [--callers N] [--alloc-profile] [--queue channel|concurrent] [--case TEXT]</c>:
/// <c>--queue</c> picks the structure behind the priority queues (<see cref="BatchQueueKind"/>; the batcher's default, concurrent queues, unless given),
/// <c>--case</c> runs only the cases whose name contains TEXT (and the floor), for more rounds in the same time.
/// </summary>
internal static class BatcherOnly
{
    public static async Task<int> RunAsync(LoadSettings settings, bool allocations, BatchQueueKind queueKind = BatchQueueKind.ConcurrentQueue, string? only = null)
    {
        var warmup = TimeSpan.FromSeconds(1);
        var window = TimeSpan.FromSeconds(settings.Seconds);
        var inputs = Enumerable.Range(0, 256).Select(i => new IrisInput { Features = [i, 1, 2, 3] }).ToArray();
        Console.WriteLine(Invariant($"Batcher only: {settings.Callers} closed-loop callers, no-op executor, {settings.Seconds:0.#} s windows, {Environment.ProcessorCount} cores, queues: {queueKind}"));
        Console.WriteLine();
        Console.WriteLine("| case | requests/s | p50 ms | p99 ms | B/req | CPU us/req | pool items/req | lock cont./1k | mean batch | batches/s |");
        Console.WriteLine("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");

        // The floor of any design that completes each request on the thread pool: one hop per request, nothing else.
        var hop = await ClosedLoop.RunAsync<IrisInput, IrisOutput>(inputs, settings.Callers, async x =>
        {
            await Task.Yield();
            return Output;
        }, null, warmup, window);
        Print("one thread-pool hop per request (floor)", hop, null, null);

        var cases = new (string Name, int Workers, Action<BatchingOptions> Configure, double SpinMicros)[]
        {
            ("default options (32, 2 ms, 2 workers)", 2, _ => { }, 0),
            ("default, DispatchWhenIdle = false (strict rule)", 2, o => o.DispatchWhenIdle = false, 0),
            ("default, DefaultTimeout infinite (no per-request timer)", 2, o => o.DefaultTimeout = Timeout.InfiniteTimeSpan, 0),
            ("default, DispatchWhenIdle = false, DefaultTimeout infinite", 2, o => { o.DispatchWhenIdle = false; o.DefaultTimeout = Timeout.InfiniteTimeSpan; }, 0),
            ("default, 1 worker", 1, _ => { }, 0),
            ("default, 1 worker, DispatchWhenIdle = false", 1, o => o.DispatchWhenIdle = false, 0),
            ("MaxBatchSize 64 (never fills with 64 callers over 2 workers)", 2, o => o.MaxBatchSize = 64, 0),
            ("MaxBatchSize 64, DispatchWhenIdle = false", 2, o => { o.MaxBatchSize = 64; o.DispatchWhenIdle = false; }, 0),
            ("MaxBatchSize 64, MaxDelay 5 ms", 2, o => { o.MaxBatchSize = 64; o.MaxDelay = TimeSpan.FromMilliseconds(5); }, 0),
            ("default, 10 us of work per batch (xgboost-like)", 2, _ => { }, 10),
            ("default, DispatchWhenIdle = false, 10 us of work per batch", 2, o => o.DispatchWhenIdle = false, 10),
            ("default, 100 us of work per batch (forest-like)", 2, _ => { }, 100),
            ("default, DispatchWhenIdle = false, 100 us of work per batch", 2, o => o.DispatchWhenIdle = false, 100),
        };
        // Warm-up, not printed: the first batcher window of a process ran at a third of the speed of the same case
        // run again (0.75M vs 2.16M requests/s, 2.6 vs 0.5 us CPU per request: JIT tiering of the batcher's code),
        // which made whichever case came first look slow.
        {
            var warm = new DynamicBatcher<IrisInput, IrisOutput>("warm-up", new BatchingOptions(), 2, new NoopExecutor(0), TimeProvider.System, queueKind);
            await ClosedLoop.RunAsync(inputs, settings.Callers, x => warm.EnqueueAsync(x, 0, null, default), null, warmup, TimeSpan.FromSeconds(2));
            await warm.StopAsync(TimeSpan.FromSeconds(5));
            warm.Dispose();
        }

        foreach (var (name, workers, configure, spin) in cases)
        {
            if (only is not null && !name.Contains(only, StringComparison.Ordinal))
            {
                continue;
            }

            var options = new BatchingOptions();
            configure(options);
            var batcher = new DynamicBatcher<IrisInput, IrisOutput>("noop", options, workers, new NoopExecutor(spin), TimeProvider.System, queueKind);
            using var sampler = allocations ? new AllocationSampler() : null;
            long batches0 = 0, batches1 = 0, items0 = 0, items1 = 0;
            var result = await ClosedLoop.RunAsync(inputs, settings.Callers, x => batcher.EnqueueAsync(x, 0, null, default), null, warmup, window,
                () =>
                {
                    (batches0, items0) = (batcher.Statistics.Batches, batcher.Statistics.BatchedItems);
                    sampler?.Start();
                },
                () =>
                {
                    sampler?.Stop();
                    (batches1, items1) = (batcher.Statistics.Batches, batcher.Statistics.BatchedItems);
                },
                () => BatcherHealth.Describe(batcher));
            var (faulted, error) = BatcherHealth.FaultedWorkers(batcher);
            try
            {
                var stop = batcher.StopAsync(TimeSpan.FromSeconds(5));
                if (await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(30))) != stop)
                {
                    error ??= "StopAsync did not finish within 30 s: " + BatcherHealth.Describe(batcher);
                }
                else
                {
                    await stop;
                    batcher.Dispose();
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                error ??= $"{ex.GetType().Name}: {ex.Message}";
            }

            var batches = batches1 - batches0;
            Print(name + (faulted > 0 ? $" [{faulted} WORKER(S) DIED: {error}]" : "") + (result.StuckCallers > 0 ? $" [{result.StuckCallers} REQUEST(S) NEVER COMPLETED]" : "") + (faulted == 0 && error is not null ? $" [{error}]" : ""), result, batches == 0 ? null : (items1 - items0) / (double)batches, batches / result.Stats.Seconds);
            if (sampler is not null)
            {
                Console.WriteLine("|   allocations by type (B/req) | " + sampler.Top(result.Stats.Items, 10) + " | | | | | | | | |");
            }
        }

        return 0;
    }

    private static readonly IrisOutput Output = new();

    private static void Print(string name, WindowResult result, double? meanBatch, double? batchesPerSecond)
    {
        var s = result.Stats;
        Console.WriteLine(Invariant($"| {name} | {s.ItemsPerSecond:N0} | {result.Latency.PercentileMs(50):0.###} | {result.Latency.PercentileMs(99):0.###} | {s.BytesPerItem:N0} | {s.CpuMicrosPerItem:0.00} | {s.PoolItemsPerItem:0.00} | {s.ContentionsPerThousandItems:0.0} | {meanBatch:0.0} | {batchesPerSecond:N0} |"));
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Returns one shared output per row; optionally spins to stand in for a model's compute time.</summary>
    private sealed class NoopExecutor(double spinMicros) : IBatchExecutor<IrisInput, IrisOutput>
    {
        private readonly long _spinTicks = (long)(spinMicros * Stopwatch.Frequency / 1e6);

        public int MaxRowsPerRun => int.MaxValue;

        public ValueTask<IrisOutput[]> ExecuteAsync(ReadOnlyMemory<IrisInput> rows, CancellationToken cancellationToken)
        {
            if (_spinTicks > 0)
            {
                var until = Stopwatch.GetTimestamp() + _spinTicks;
                while (Stopwatch.GetTimestamp() < until)
                {
                    Thread.SpinWait(10);
                }
            }

            var outputs = new IrisOutput[rows.Length];
            Array.Fill(outputs, Output);
            return new ValueTask<IrisOutput[]>(outputs);
        }
    }
}
