using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// <c>load --streams</c>: how many real-time streams (one 32 ms chunk of 16 kHz audio every 32 ms = 31.25 chunks/s
/// each) one process serves through Silero VAD with the chunk's p99 latency under 32 ms, sequence-batched against one
/// run per chunk (naive). Latency is counted from when the chunk was due (not when it was sent), so a stream that falls
/// behind shows it. The streams are spread over 32 phases of the 32 ms period. The load generator runs in the same
/// process on the same cores, for both modes.
/// <code>
/// dotnet run -c Release --project tests/ModelInService.Benchmarks -- load --streams [--seconds 6] [--modes naive,batched] [--max-delay-ms 8] [--max-batch 128] [--no-idle-dispatch] [--at N] [--cost]
/// </code>
/// </summary>
internal static class StreamLoad
{
    private const int ChunkSamples = 512;
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(32);
    private static readonly double BudgetMs = 32;

    public static async Task<int> RunAsync(string[] args)
    {
        var models = Paths.SharedModels;
        if (models is null)
        {
            Console.WriteLine("load --streams needs ../shared (Silero VAD): set MIS_SHARED_DIR or place the shared folder next to the repo.");
            return 1;
        }

        var path = Path.Combine(models, "audio", "silero_vad_v5.onnx");
        var settings = new Settings(Option(args, "--seconds", 6.0), Option(args, "--max-delay-ms", 8.0), (int)Option(args, "--max-batch", 128.0), !args.Contains("--no-idle-dispatch"));
        var at = (int)Option(args, "--at", 0.0);
        if (args.Contains("--cost"))
        {
            Cost(path);
            return 0;
        }

        var modes = Array.IndexOf(args, "--modes") is var m and >= 0 && m + 1 < args.Length ? args[m + 1].Split(',') : ["naive", "batched"];
        Console.WriteLine("# Streaming load: Silero VAD v5, real-time streams (31.25 chunks/s each), chunk p99 < 32 ms");
        Console.WriteLine($"Command line: load {string.Join(' ', args)}");
        Console.WriteLine(FormattableString.Invariant($"Cores: {Environment.ProcessorCount}; window {settings.Seconds:0.#} s after a 2 s warm-up per probe; batched: MaxDelay {settings.MaxDelayMs} ms, MaxBatchSize {settings.MaxBatch}, DispatchWhenIdle {settings.DispatchWhenIdle}"));
        var results = new List<(string Mode, int Streams, Probe Probe)>();
        foreach (var mode in modes)
        {
            var batched = mode == "batched";
            Func<int, Task<Probe>> probe = n => MeasureAsync(path, batched, n, settings);
            if (at > 0)
            {
                var single = await probe(at);
                Print(mode, single);
                continue;
            }

            var (best, report) = await SearchAsync(mode, probe);
            results.Add((mode, best, report));
        }

        if (results.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("| mode | real-time streams served (p99 < 32 ms) | chunks/s | p50 ms | p99 ms | max ms | CPU % | mean batch |");
            Console.WriteLine("|---|--:|--:|--:|--:|--:|--:|--:|");
            foreach (var (mode, streams, p) in results)
            {
                Console.WriteLine(FormattableString.Invariant($"| {mode} | {streams} | {p.ChunksPerSecond:0} | {p.P50:0.00} | {p.P99:0.00} | {p.Max:0.0} | {p.CpuPercent:0} | {p.MeanBatch:0.0} |"));
            }

            var naive = results.Find(r => r.Mode == "naive");
            var seq = results.Find(r => r.Mode == "batched");
            if (naive.Streams > 0 && seq.Streams > 0)
            {
                Console.WriteLine(FormattableString.Invariant($"batched / naive = {seq.Streams / (double)naive.Streams:0.00}x streams"));
            }

            // What the model itself allows on this machine at this moment: direct runs, one per core at once, at one
            // row and at the batched mode's largest batch. The stream ratio can exceed this throughput ratio only
            // when the naive mode fails on latency spikes before it runs out of cores.
            var single = CostRun(path, 1, Environment.ProcessorCount);
            var full = CostRun(path, settings.MaxBatch, Environment.ProcessorCount);
            Console.WriteLine(FormattableString.Invariant($"model ceiling (direct runs, {Environment.ProcessorCount} threads at once): {single:0} chunks/s at 1 row, {full:0} at {settings.MaxBatch} rows = {full / single:0.00}x; naive at {(naive.Streams > 0 ? naive.Probe.ChunksPerSecond / single : 0):0.00}, batched at {(seq.Streams > 0 ? seq.Probe.ChunksPerSecond / full : 0):0.00} of its ceiling"));
        }

        return 0;
    }

    /// <summary>Doubles the streams until a probe fails, then bisects between the last pass and the first failure (to within 5%).</summary>
    private static async Task<(int Streams, Probe Report)> SearchAsync(string mode, Func<int, Task<Probe>> probe)
    {
        int pass = 0, fail = 0;
        Probe? best = null;
        for (var n = 8; ; n *= 2)
        {
            var p = await probe(n);
            Print(mode, p);
            if (!p.Passed)
            {
                fail = n;
                break;
            }

            (pass, best) = (n, p);
            if (n >= 8192)
            {
                return (pass, p);
            }
        }

        while (fail - pass > Math.Max(2, pass / 20))
        {
            var n = (pass + fail) / 2;
            var p = await probe(n);
            Print(mode, p);
            if (p.Passed)
            {
                (pass, best) = (n, p);
            }
            else
            {
                fail = n;
            }
        }

        return (pass, best ?? new Probe(0, 0, 0, 0, 0, 0, 0, 0, 0, false));
    }

    private static void Print(string mode, Probe p) =>
        Console.WriteLine(FormattableString.Invariant($"  {mode,-8} {p.Streams,5} streams: {p.ChunksPerSecond,7:0} chunks/s  p50 {p.P50,6:0.00} ms  p99 {p.P99,7:0.00} ms  max {p.Max,7:0.0} ms  errors {p.Errors}  CPU {p.CpuPercent:0}%  mean batch {p.MeanBatch:0.0}  {(p.Passed ? "PASS" : "fail")}  loadavg {LoadAverage()}"));

    /// <summary>The machine's one-minute load average (other processes compete for the same cores).</summary>
    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static async Task<Probe> MeasureAsync(string path, bool batched, int streams, Settings settings)
    {
        var services = new ServiceCollection();
        services.AddStreamingModel<StreamChunk, StreamResult>("vad", path, o =>
        {
            o.ContextInput = "input";
            o.ContextLength = 64;
            o.Constants["sr"] = 16000L;
            o.MaxStreams = streams + 16;
            o.SequenceBatching = batched;
            o.Batching.MaxDelay = TimeSpan.FromMilliseconds(settings.MaxDelayMs);
            o.Batching.MaxBatchSize = settings.MaxBatch;
            o.Batching.DispatchWhenIdle = settings.DispatchWhenIdle;
            o.Batching.MaxQueueSize = Math.Max(1024, streams * 4);
        });
        await using var provider = services.BuildServiceProvider();
        await provider.StartModelsAsync();
        var predictor = provider.GetRequiredService<IStreamPredictor<StreamChunk, StreamResult>>();
        var registry = provider.GetRequiredService<Hosting.ModelRegistry>();

        var random = new Random(42);
        var audio = new StreamChunk[16];
        for (var i = 0; i < audio.Length; i++)
        {
            var samples = new float[ChunkSamples];
            for (var s = 0; s < ChunkSamples; s++)
            {
                samples[s] = (float)((Math.Sin(s * (0.05 + (i * 0.01))) * 0.3) + ((random.NextDouble() - 0.5) * 0.1));
            }

            audio[i] = new StreamChunk { Samples = samples };
        }

        var run = new Run(settings.Seconds);
        var handles = new IStreamSession<StreamChunk, StreamResult>[streams];
        for (var i = 0; i < streams; i++)
        {
            handles[i] = predictor.OpenStream("s" + i.ToString(CultureInfo.InvariantCulture));
        }

        // The streams are spread over 32 phases of the 32 ms period (1 ms apart); one loop per phase releases its
        // streams' chunks when due, each through the thread pool (as a server's receive loops would), so the load
        // generator needs 1,000 timer wake-ups a second whatever the number of streams.
        const int Phases = 32;
        var loops = new Task[Phases];
        for (var g = 0; g < Phases; g++)
        {
            var phase = g;
            loops[g] = Task.Run(async () =>
            {
                for (long k = 0; ; k++)
                {
                    var due = run.Start + (phase * run.PeriodTicks / Phases) + (k * run.PeriodTicks);
                    if (due >= run.End)
                    {
                        return;
                    }

                    var wait = due - Stopwatch.GetTimestamp();
                    if (wait > 0)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(wait / (double)Stopwatch.Frequency)).ConfigureAwait(false);
                    }

                    for (var i = phase; i < streams; i += Phases)
                    {
                        Interlocked.Increment(ref run.Pending);
                        ThreadPool.UnsafeQueueUserWorkItem(static send => _ = send.SendAsync(), new Send(run, handles[i], audio[(i + (int)k) % audio.Length], due), preferLocal: false);
                    }
                }
            });
        }

        // Batch and CPU figures over the measured window only.
        var untilMeasure = run.MeasureFrom - Stopwatch.GetTimestamp();
        if (untilMeasure > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(untilMeasure / (double)Stopwatch.Frequency));
        }

        var stats = registry.Get("vad").Features.Batcher?.Statistics;
        var (batchesAtStart, itemsAtStart) = (stats?.Batches ?? 0, stats?.BatchedItems ?? 0);
        var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(loops);
        for (var spins = 0; Volatile.Read(ref run.Pending) > 0 && spins < 3000; spins++)
        {
            await Task.Delay(10);
        }

        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalSeconds / wall.Elapsed.TotalSeconds / Environment.ProcessorCount * 100;
        var batches = (stats?.Batches ?? 0) - batchesAtStart;
        var meanBatch = batches > 0 ? ((stats?.BatchedItems ?? 0) - itemsAtStart) / (double)batches : 1;
        foreach (var handle in handles)
        {
            await handle.DisposeAsync();
        }

        var histogram = run.Histogram;
        var p99 = histogram.PercentileMs(99);
        var lost = Volatile.Read(ref run.Pending);
        var passed = run.Errors == 0 && lost == 0 && p99 < BudgetMs;
        return new Probe(streams, histogram.Count / settings.Seconds, histogram.PercentileMs(50), p99, histogram.MaxMs, run.Errors + lost, cpu, meanBatch, histogram.Count, passed);
    }

    /// <summary>One probe's clock and counters.</summary>
    private sealed class Run
    {
        public Run(double seconds)
        {
            PeriodTicks = (long)(Period.TotalSeconds * Stopwatch.Frequency);
            Start = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 10);
            MeasureFrom = Start + (2 * Stopwatch.Frequency);
            End = MeasureFrom + (long)(seconds * Stopwatch.Frequency);
        }

        public long PeriodTicks { get; }

        public long Start { get; }

        public long MeasureFrom { get; }

        public long End { get; }

        public LatencyHistogram Histogram { get; } = new();

        public long Errors;

        public long Pending;
    }

    /// <summary>One chunk on its way: latency counted from when it was due.</summary>
    private sealed class Send(Run run, IStreamSession<StreamChunk, StreamResult> stream, StreamChunk chunk, long due)
    {
        public async Task SendAsync()
        {
            try
            {
                await stream.PredictAsync(chunk).ConfigureAwait(false);
            }
            catch (ModelException)
            {
                Interlocked.Increment(ref run.Errors);
            }

            if (due >= run.MeasureFrom)
            {
                run.Histogram.RecordConcurrent(Stopwatch.GetTimestamp() - due);
            }

            Interlocked.Decrement(ref run.Pending);
        }
    }

    private sealed record Settings(double Seconds, double MaxDelayMs, int MaxBatch, bool DispatchWhenIdle);

    /// <summary>
    /// <c>--cost</c>: the model's own batching curve from direct InferenceSession runs (1 intra-op thread), on one thread
    /// and on one thread per core at once (a session each): what batching can buy on this machine when every core runs.
    /// </summary>
    private static void Cost(string path)
    {
        var threads = Environment.ProcessorCount;
        Console.WriteLine(FormattableString.Invariant($"| rows per run | µs per run (1 thread) | µs per row (1 thread) | rows/s (1 thread) | rows/s ({threads} threads at once) | scaling |"));
        Console.WriteLine("|--:|--:|--:|--:|--:|--:|");
        foreach (var n in new[] { 1, 2, 4, 8, 16, 32, 64, 128, 256 })
        {
            var one = CostRun(path, n, 1);
            var all = CostRun(path, n, threads);
            Console.WriteLine(FormattableString.Invariant($"| {n} | {1e6 * n / one:0} | {1e6 / one:0.0} | {one:0} | {all:0} | {all / one:0.00}x |"));
        }
    }

    /// <summary>Rows per second of <paramref name="threads"/> threads each running batches of <paramref name="n"/> rows through its own session, for about a second.</summary>
    private static double CostRun(string path, int n, int threads)
    {
        var rows = new long[threads];
        var start = new Barrier(threads + 1);
        var elapsed = new double[threads];
        var workers = new Thread[threads];
        for (var t = 0; t < threads; t++)
        {
            var index = t;
            workers[t] = new Thread(() =>
            {
                using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
                using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path, options);
                using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
                var x = new float[n * 576];
                for (var i = 0; i < x.Length; i++)
                {
                    x[i] = (float)Math.Sin(i * 0.07) * 0.3f;
                }

                var state = new float[2 * n * 128];
                using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x, [n, 576]);
                using var stateValue = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(state, [2, n, 128]);
                using var sr = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(new long[] { 16000 }, []);
                var names = new[] { "input", "state", "sr" };
                var values = new[] { input, stateValue, sr };
                var outputs = new[] { "output", "stateN" };
                for (var w = 0; w < 20; w++)
                {
                    using var r = session.Run(runOptions, names, values, outputs);
                }

                start.SignalAndWait();
                var runs = Math.Max(40, 8000 / n);
                var watch = Stopwatch.StartNew();
                for (var i = 0; i < runs; i++)
                {
                    using var r = session.Run(runOptions, names, values, outputs);
                }

                elapsed[index] = watch.Elapsed.TotalSeconds;
                rows[index] = (long)runs * n;
            });
            workers[t].Start();
        }

        start.SignalAndWait();
        double total = 0;
        for (var t = 0; t < threads; t++)
        {
            workers[t].Join();
            total += rows[t] / elapsed[t];
        }

        return total;
    }

    private static double Option(string[] args, string name, double fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;

    private sealed record Probe(int Streams, double ChunksPerSecond, double P50, double P99, double Max, long Errors, double CpuPercent, double MeanBatch, long Count, bool Passed);

    public sealed class StreamChunk
    {
        [ModelInput("input")]
        public float[] Samples { get; set; } = [];
    }

    public sealed class StreamResult
    {
        [ModelOutput("output")]
        public float Probability { get; set; }
    }
}
