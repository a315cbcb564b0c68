using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Benchmarks;

/// <summary>
/// Measures the session-pool layouts side by side in one run: one session shared by concurrent runs, one copy per
/// concurrent run, and one run at a time with all cores as intra-op threads. Batch 1 per request, many async
/// callers, items/s. Usage: <c>dotnet run -c Release --project tests/ModelInService.Benchmarks -- pool [--seconds 3] [--callers 16]</c>.
/// </summary>
internal static class PoolComparison
{
    private sealed record Layout(string Name, int Copies, int Concurrency, int IntraOp);

    private sealed record Workload(string Name, string Path, Func<NamedTensor[]> Input);

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = Option(args, "--seconds", 3.0);
        var callers = (int)Option(args, "--callers", 16);
        var cores = Environment.ProcessorCount;
        Layout[] layouts =
        [
            new("1 shared session, 2 concurrent runs, intra-op 1", 1, cores, 1),
            new("2 copies, 2 concurrent runs, intra-op 1", cores, cores, 1),
            new($"1 session, 1 run at a time, intra-op {cores}", 1, 1, cores),
        ];

        var workloads = new List<Workload>
        {
            new("generated iris MLP [1,4]", Paths.RepoModel("iris_mlp.onnx"), () => [NamedTensor.Create("features", new[] { 5.1f, 3.5f, 1.4f, 0.2f }, 1, 4)]),
        };
        if (Paths.SharedModels is { } shared)
        {
            var random = new Random(1);
            workloads.Add(new("tract xgboost [1,13]", Path.Combine(shared, "tabular/tract_xgboost_classifier_tree/model.onnx"),
                () => [NamedTensor.Create("input", Enumerable.Range(0, 13).Select(_ => (float)random.NextDouble()).ToArray(), 1, 13)]));
            workloads.Add(new("sklearn random forest [1,4]", Path.Combine(shared, "tabular/yalue_sklearn_randomforest_iris/model.onnx"),
                () => [NamedTensor.Create("X", new[] { 5.9f, 3.0f, 5.1f, 1.8f }, 1, 4)]));
            workloads.Add(new("mnist-8-setdim [1,1,28,28]", Path.Combine(shared, "mnist/mnist-8-setdim.onnx"),
                () => [NamedTensor.Create("Input3", Enumerable.Range(0, 784).Select(_ => (float)random.NextDouble()).ToArray(), 1, 1, 28, 28)]));
            workloads.Add(new("nnsplit bi-LSTM [1,32]", Path.Combine(shared, "text/nnsplit_byte_sb_bidi_lstm/model.onnx"),
                () => [NamedTensor.Create("input", Enumerable.Range(0, 32).Select(_ => (byte)random.Next(97, 123)).ToArray(), 1, 32)]));
        }
        else
        {
            Console.WriteLine("../shared/models not found: measuring the generated model only.");
        }

        Console.WriteLine($"Session pool layouts: {callers} async callers, batch 1, {seconds:0.#} s per cell, {cores} cores, .NET {Environment.Version}");
        Console.WriteLine();
        Console.WriteLine("| model | " + string.Join(" | ", layouts.Select(l => l.Name)) + " | resident memory per extra copy |");
        Console.WriteLine("|---|" + string.Concat(layouts.Select(_ => "---|")) + "---|");
        foreach (var workload in workloads)
        {
            var cells = new List<string>();
            double? baseline = null;
            foreach (var layout in layouts)
            {
                var rate = await MeasureAsync(workload, layout, callers, TimeSpan.FromSeconds(seconds));
                baseline ??= rate;
                cells.Add(string.Create(CultureInfo.InvariantCulture, $"{rate:N0}/s ({rate / baseline.Value:0.00}x)"));
            }

            var perCopy = await MemoryPerCopyAsync(workload);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {workload.Name} | {string.Join(" | ", cells)} | {perCopy / 1024.0 / 1024.0:0.0} MB |"));
        }

        return 0;
    }

    /// <summary>Resident memory of one more session copy: (5-copy load) - (1-copy load), divided by 4.</summary>
    private static async Task<long> MemoryPerCopyAsync(Workload workload)
    {
        static long Rss()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using var process = Process.GetCurrentProcess();
            return process.WorkingSet64;
        }

        await using var one = await LoadAsync(workload, new Layout("", 1, 1, 1));
        var afterOne = Rss();
        await using var five = await LoadAsync(workload, new Layout("", 5, 5, 1));
        var afterFive = Rss();
        await using var another = await LoadAsync(workload, new Layout("", 1, 1, 1));
        var afterAnother = Rss();
        // Loading R + 5C after a 1-copy load, then R + C: the difference of the two increments is 4C.
        var registration = Math.Max(0, afterAnother - afterFive);
        return Math.Max(0, afterFive - afterOne - registration) / 4;
    }

    private static async Task<ServiceProvider> LoadAsync(Workload workload, Layout layout)
    {
        var services = new ServiceCollection();
        services.AddModel("m", o =>
        {
            o.Source = ModelSource.FromFile(workload.Path);
            o.SessionCopies = layout.Copies;
            o.MaxConcurrency = layout.Concurrency;
            o.IntraOpThreads = layout.IntraOp;
            o.AllowThreadOversubscription = true;
        });
        var provider = services.BuildServiceProvider();
        await provider.StartModelsAsync();
        return provider;
    }

    private static async Task<double> MeasureAsync(Workload workload, Layout layout, int callers, TimeSpan duration)
    {
        var services = new ServiceCollection();
        services.AddModel("m", o =>
        {
            o.Source = ModelSource.FromFile(workload.Path);
            o.SessionCopies = layout.Copies;
            o.MaxConcurrency = layout.Concurrency;
            o.IntraOpThreads = layout.IntraOp;
            o.AllowThreadOversubscription = true;
        });
        await using var provider = services.BuildServiceProvider();
        await provider.StartModelsAsync();
        var runner = provider.GetRequiredKeyedService<IModelRunner>("m");
        var input = workload.Input();

        await RunForAsync(runner, input, callers, TimeSpan.FromSeconds(0.5)); // warm-up
        var count = await RunForAsync(runner, input, callers, duration);
        return count / duration.TotalSeconds;
    }

    private static async Task<long> RunForAsync(IModelRunner runner, NamedTensor[] input, int callers, TimeSpan duration)
    {
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long total = 0;
        var tasks = Enumerable.Range(0, callers).Select(async _ =>
        {
            await Task.Yield();
            long local = 0;
            while (Stopwatch.GetTimestamp() < end)
            {
                await runner.RunAsync(input);
                local++;
            }

            Interlocked.Add(ref total, local);
        });
        await Task.WhenAll(tasks);
        return total;
    }

    private static double Option(string[] args, string name, double fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
