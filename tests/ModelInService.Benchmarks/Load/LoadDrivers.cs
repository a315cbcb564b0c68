using System.Diagnostics;

namespace ModelInService.Benchmarks.Load;

/// <summary>The result of one measurement window.</summary>
internal sealed class WindowResult
{
    public required LatencyHistogram Latency { get; init; }

    public required WindowStats Stats { get; init; }

    public long Errors { get; init; }

    public string? FirstError { get; init; }

    public int PoolThreads { get; init; }

    /// <summary>Callers whose last request had not completed long after the window ended (a lost request).</summary>
    public int StuckCallers { get; init; }

    /// <summary>Open loop only: the rate the generator achieved in the window (requests/s).</summary>
    public double OfferedRate { get; init; }
}

/// <summary>Warm-up, then a measured window, then stop: flipped by a dedicated thread so a saturated pool cannot delay it.</summary>
internal sealed class Phases
{
    public const int Warmup = 0;
    public const int Measuring = 1;
    public const int Stopped = 2;

    private volatile int _phase;

    public int Current => _phase;

    public ProcessCounters Start { get; private set; }

    public ProcessCounters End { get; private set; }

    /// <summary>Starts a thread that sleeps through warm-up, takes counters, sleeps through the window, takes counters and stops.</summary>
    public Thread Run(TimeSpan warmup, TimeSpan window, Action? atStart = null, Action? atEnd = null)
    {
        var thread = new Thread(() =>
        {
            Thread.Sleep(warmup);
            atStart?.Invoke();
            Start = ProcessCounters.Take();
            _phase = Measuring;
            Thread.Sleep(window);
            _phase = Stopped;
            End = ProcessCounters.Take();
            atEnd?.Invoke();
        })
        {
            IsBackground = true,
            Name = "load phases",
            Priority = ThreadPriority.AboveNormal,
        };
        thread.Start();
        return thread;
    }
}

internal static class ClosedLoop
{
    /// <summary>
    /// <paramref name="callers"/> async callers, each sending one request and awaiting it before the next (closed
    /// loop). Latency is from the call to its completion. <paramref name="sync"/> calls (raw <c>InferenceSession.Run</c>)
    /// yield to the thread pool before each request, as a server handles each request as a new work item; without the
    /// yield, two callers would occupy both pool threads and the other 62 would never run.
    /// </summary>
    public static async Task<WindowResult> RunAsync<TIn, TOut>(
        TIn[] inputs,
        int callers,
        Func<TIn, ValueTask<TOut>>? asyncCall,
        Func<TIn, TOut>? sync,
        TimeSpan warmup,
        TimeSpan window,
        Action? atStart = null,
        Action? atEnd = null,
        Func<string>? describeWhenStuck = null,
        TimeSpan? stuckAfter = null,
        bool spreadCallers = false)
    {
        var mask = inputs.Length - 1;
        if ((inputs.Length & mask) != 0)
        {
            throw new ArgumentException("The input pool size must be a power of two.", nameof(inputs));
        }

        var phases = new Phases();
        var histograms = new LatencyHistogram[callers];
        long errors = 0;
        string? firstError = null;
        var tasks = new Task[callers];
        for (var c = 0; c < callers; c++)
        {
            histograms[c] = new LatencyHistogram();
            tasks[c] = CallerAsync(c, histograms[c]);
        }

        var controller = phases.Run(warmup, window, atStart, atEnd);
        var all = Task.WhenAll(tasks);
        controller.Join();

        // Every caller finishes its in-flight request after the window; one that has not after 35 s (longer than the
        // batcher's default 30 s deadline; 5 s with --quick) lost its request. Report the batcher's state and stop
        // waiting for it.
        var stuck = 0;
        var patience = stuckAfter ?? TimeSpan.FromSeconds(35);
        if (await Task.WhenAny(all, Task.Delay(patience)) != all)
        {
            stuck = tasks.Count(t => !t.IsCompleted);
            Console.WriteLine($"  STUCK: {stuck} of {callers} callers still wait for a request {patience.TotalSeconds:0} s after the window ended. {describeWhenStuck?.Invoke()}");
        }
        else
        {
            await all;
        }

        var merged = new LatencyHistogram();
        foreach (var histogram in histograms)
        {
            merged.Add(histogram);
        }

        return new WindowResult
        {
            Latency = merged,
            Stats = WindowStats.Between(phases.Start, phases.End, merged.Count),
            Errors = errors,
            FirstError = firstError,
            PoolThreads = ThreadPool.ThreadCount,
            StuckCallers = stuck,
        };

        async Task CallerAsync(int id, LatencyHistogram histogram)
        {
            await Task.Yield();
            // spreadCallers: each caller starts its own stretch of the inputs, so an input comes back only after every
            // caller has walked a stretch (a reuse distance of the whole array, for the cache modes).
            var k = spreadCallers ? id * (inputs.Length / callers) : id * 37;
            while (phases.Current != Phases.Stopped)
            {
                var input = inputs[k++ & mask];
                var started = Stopwatch.GetTimestamp();
                TOut output;
                try
                {
                    if (sync is not null)
                    {
                        await Task.Yield();
                        output = sync(input);
                    }
                    else
                    {
                        output = await asyncCall!(input);
                    }
                }
                catch (Exception ex) when (ex is ModelOverloadedException or ModelDeadlineExceededException)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, ex.GetType().Name + ": " + ex.Message, null);
                    continue;
                }

                var elapsed = Stopwatch.GetTimestamp() - started;
                if (phases.Current == Phases.Measuring)
                {
                    histogram.RecordTicks(elapsed);
                }

                GC.KeepAlive(output);
            }
        }
    }
}

internal static class OpenLoop
{
    /// <summary>
    /// Offers <paramref name="rate"/> requests per second regardless of completions (open loop): a dedicated thread
    /// wakes about every millisecond and issues every request due by then. Latency is from issue to completion.
    /// </summary>
    public static async Task<WindowResult> RunAsync<TIn, TOut>(TIn[] inputs, double rate, Func<TIn, ValueTask<TOut>> call, TimeSpan warmup, TimeSpan window, Action? atStart = null, Action? atEnd = null, TimeSpan? drainLimit = null)
    {
        var mask = inputs.Length - 1;
        var phases = new Phases();
        var histogram = new LatencyHistogram();
        long errors = 0;
        string? firstError = null;
        long outstanding = 0;
        long issuedAtStart = 0;
        long issuedAtEnd = 0;
        long issued = 0;

        var generator = new Thread(() =>
        {
            var begin = Stopwatch.GetTimestamp();
            var seen = Phases.Warmup;
            while (true)
            {
                var phase = phases.Current;
                if (phase != seen)
                {
                    if (phase == Phases.Measuring)
                    {
                        issuedAtStart = issued;
                    }
                    else
                    {
                        issuedAtEnd = issued;
                        break;
                    }

                    seen = phase;
                }

                var due = (long)((Stopwatch.GetTimestamp() - begin) / (double)Stopwatch.Frequency * rate);
                for (; issued < due; issued++)
                {
                    Interlocked.Increment(ref outstanding);
                    _ = FireAsync(inputs[(int)(issued & mask)]);
                }

                Thread.Sleep(1);
            }
        })
        {
            IsBackground = true,
            Name = "open-loop generator",
            Priority = ThreadPriority.AboveNormal,
        };

        var controller = phases.Run(warmup, window, atStart, atEnd);
        generator.Start();
        controller.Join();
        generator.Join();
        var drainUntil = Stopwatch.GetTimestamp() + (long)((drainLimit ?? TimeSpan.FromSeconds(60)).TotalSeconds * Stopwatch.Frequency);
        while (Interlocked.Read(ref outstanding) > 0 && Stopwatch.GetTimestamp() < drainUntil)
        {
            await Task.Delay(10);
        }

        var stats = WindowStats.Between(phases.Start, phases.End, histogram.Count);
        return new WindowResult
        {
            Latency = histogram,
            Stats = stats,
            Errors = errors,
            FirstError = firstError,
            PoolThreads = ThreadPool.ThreadCount,
            StuckCallers = (int)Interlocked.Read(ref outstanding),
            OfferedRate = stats.Seconds > 0 ? (issuedAtEnd - issuedAtStart) / stats.Seconds : 0,
        };

        async Task FireAsync(TIn input)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                var output = await call(input);
                GC.KeepAlive(output);
                var elapsed = Stopwatch.GetTimestamp() - started;
                if (phases.Current == Phases.Measuring)
                {
                    histogram.RecordConcurrent(elapsed);
                }
            }
            catch (Exception ex) when (ex is ModelOverloadedException or ModelDeadlineExceededException)
            {
                Interlocked.Increment(ref errors);
                Interlocked.CompareExchange(ref firstError, ex.GetType().Name + ": " + ex.Message, null);
            }
            finally
            {
                Interlocked.Decrement(ref outstanding);
            }
        }
    }
}
