using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Benchmarks.Load;

/// <summary>One point of the limit sweep: pre-built batches run in a tight loop on dedicated threads.</summary>
internal sealed record SweepPoint(int Batch, int Workers, int IntraOp, int Copies, double ItemsPerSecond, double RunMsMean, double RunMsP50, double RunMsP99, double CpuMicrosPerItem, double OtherProcessCores, string Kind = "pure")
{
    public string Layout => $"batch {Batch}, {LayoutName(Workers, IntraOp, Copies)}";

    public static string LayoutName(int workers, int intraOp, int copies) =>
        $"{workers} worker{(workers == 1 ? "" : "s")}, intra-op {intraOp}{(workers > 1 ? (copies == 1 ? ", 1 shared session" : $", {copies} sessions") : "")}";

    public bool Is((int Workers, int IntraOp, int Copies) layout) => Workers == layout.Workers && IntraOp == layout.IntraOp && Copies == layout.Copies;
}

/// <summary>The baselines, written with the raw ONNX Runtime API (OrtValue) as a user would without the library.</summary>
internal static class RawOrt
{
    /// <summary>Default session options, optionally with the intra-op thread count set.</summary>
    public static InferenceSession CreateSession(string path, int? intraOp)
    {
        using var options = new SessionOptions();
        if (intraOp is { } threads)
        {
            options.IntraOpNumThreads = threads;
        }

        return new InferenceSession(path, options);
    }

    /// <summary>One request = one <c>Run</c> of a [1, ...] tensor over the caller's array, outputs copied into a new <typeparamref name="TOut"/>.</summary>
    public static Func<TIn, TOut> NaiveCall<TIn, TOut, T>(Workload<TIn, TOut, T> workload, InferenceSession session)
        where T : unmanaged
    {
        var runOptions = new RunOptions();
        var inputNames = new[] { workload.InputName };
        var outputNames = workload.OutputNames;
        var shape = workload.Shape(1);
        return input =>
        {
            using var value = OrtValue.CreateTensorValueFromMemory(workload.Row(input), shape);
            using var results = session.Run(runOptions, inputNames, [value], outputNames);
            return workload.Unpack(results, 0, 1);
        };
    }

    /// <summary>
    /// Runs batches of <paramref name="batch"/> rows on <paramref name="workers"/> dedicated threads over
    /// <paramref name="sessions"/> (worker w uses session w mod count: one shared session, or one per worker). <paramref name="endToEnd"/> adds what any batched server must do per batch: copy the
    /// rows into a new tensor and unpack one <typeparamref name="TOut"/> per row (the library's binding work, without its
    /// queue); otherwise the input tensor is built once and the outputs are only fetched (the ceiling).
    /// </summary>
    public static SweepPoint Measure<TIn, TOut, T>(Workload<TIn, TOut, T> workload, InferenceSession[] sessions, int intraOp, TIn[] inputs, int batch, int workers, TimeSpan warmup, TimeSpan window, bool endToEnd)
        where T : unmanaged
    {
        var phases = new Phases();
        var histograms = new LatencyHistogram[workers];
        var runs = new long[workers];
        var threads = new Thread[workers];
        var inputNames = new[] { workload.InputName };
        var outputNames = workload.OutputNames;
        var shape = workload.Shape(batch);
        var rowElements = workload.RowElements;
        var elementType = TensorElementTypeOf<T>();
        Exception? failure = null;
        using var ready = new CountdownEvent(workers);
        for (var w = 0; w < workers; w++)
        {
            var id = w;
            var session = sessions[id % sessions.Length];
            histograms[id] = new LatencyHistogram();
            threads[id] = new Thread(() =>
            {
                try
                {
                    var buffer = new T[batch * rowElements];
                    var rows = new TIn[batch];
                    for (var r = 0; r < batch; r++)
                    {
                        rows[r] = inputs[((id * batch) + r) % inputs.Length];
                        workload.Row(rows[r]).CopyTo(buffer, r * rowElements);
                    }

                    using var prebuilt = OrtValue.CreateTensorValueFromMemory(buffer, shape);
                    using var runOptions = new RunOptions();
                    var values = new[] { prebuilt };
                    var outputs = new TOut[batch];
                    using (session.Run(runOptions, inputNames, values, outputNames))
                    {
                        // first run outside the window (allocations, arena growth)
                    }

                    ready.Signal();
                    var histogram = histograms[id];
                    long count = 0;
                    while (phases.Current != Phases.Stopped)
                    {
                        var started = Stopwatch.GetTimestamp();
                        if (endToEnd)
                        {
                            using var packed = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, elementType, shape);
                            var destination = MemoryMarshal.Cast<byte, T>(packed.GetTensorMutableRawData());
                            for (var r = 0; r < batch; r++)
                            {
                                workload.Row(rows[r]).CopyTo(destination.Slice(r * rowElements, rowElements));
                            }

                            using var results = session.Run(runOptions, inputNames, [packed], outputNames);
                            for (var r = 0; r < batch; r++)
                            {
                                outputs[r] = workload.Unpack(results, r, batch);
                            }
                        }
                        else
                        {
                            using var results = session.Run(runOptions, inputNames, values, outputNames);
                        }

                        var elapsed = Stopwatch.GetTimestamp() - started;
                        if (phases.Current == Phases.Measuring)
                        {
                            histogram.RecordTicks(elapsed);
                            count++;
                        }
                    }

                    runs[id] = count;
                }
                catch (Exception ex)
                {
                    failure ??= ex;
                    try
                    {
                        ready.Signal();
                    }
                    catch (InvalidOperationException)
                    {
                        // already signaled
                    }
                }
            })
            {
                IsBackground = true,
                Name = $"limit worker {id}",
            };
            threads[id].Start();
        }

        ready.Wait();
        var controller = phases.Run(warmup, window);
        controller.Join();
        foreach (var thread in threads)
        {
            thread.Join();
        }

        if (failure is not null)
        {
            throw new InvalidOperationException($"Limit sweep failed at batch {batch}, {workers} workers: {failure.Message}", failure);
        }

        var merged = new LatencyHistogram();
        foreach (var histogram in histograms)
        {
            merged.Add(histogram);
        }

        var items = runs.Sum() * batch;
        var stats = WindowStats.Between(phases.Start, phases.End, items);
        return new SweepPoint(batch, workers, intraOp, sessions.Length, stats.ItemsPerSecond, merged.MeanMs, merged.PercentileMs(50), merged.PercentileMs(99), stats.CpuMicrosPerItem, stats.OtherProcessCores, endToEnd ? "pack+run+unpack" : "pure");
    }

    private static Microsoft.ML.OnnxRuntime.Tensors.TensorElementType TensorElementTypeOf<T>()
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            return Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float;
        }

        if (typeof(T) == typeof(byte))
        {
            return Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.UInt8;
        }

        throw new NotSupportedException($"Element type {typeof(T).Name} is not used by the load harness.");
    }
}
