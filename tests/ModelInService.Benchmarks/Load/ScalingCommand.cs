using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelInService.Benchmarks.Load;

/// <summary>Resident (VmRSS) and managed memory of this process at one moment.</summary>
internal sealed class MemoryResult
{
    public int Copies { get; init; }

    public long RssBefore { get; init; }

    public long RssAfter { get; init; }

    public long ManagedBefore { get; init; }

    public long ManagedAfter { get; init; }

    [JsonIgnore]
    public long Rss { get; init; }

    [JsonIgnore]
    public long Managed { get; init; }

    public static MemoryResult Take()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var managed = GC.GetTotalMemory(forceFullCollection: true);
        long rss = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return new MemoryResult { Rss = rss, Managed = managed };
    }
}

/// <summary>
/// Scaling on this machine: served throughput (UseBatching defaults, 64 callers) against ModelOptions.SessionCopies,
/// IntraOpThreads and MaxConcurrency, and the memory each copy costs (a fresh child process per copy count).
/// <code>
/// dotnet run -c Release --project tests/ModelInService.Benchmarks -- scaling [--models iris,xgboost,forest,mnist,nnsplit] [--seconds 3] [--rounds 2] [--json PATH]
/// </code>
/// </summary>
internal static class ScalingCommand
{
    private static readonly int[] CopyCounts = [1, 2, 4];

    public static async Task<int> RunAsync(string[] args)
    {
        var started = Stopwatch.GetTimestamp();
        var parsed = LoadSettings.Parse(args);
        var settings = new LoadSettings
        {
            Quick = parsed.Quick,
            Seconds = parsed.Seconds,
            Callers = parsed.Callers,
            RoundsOption = parsed.RoundsOption > 0 ? parsed.RoundsOption : parsed.Quick ? 1 : 2,
            Models = parsed.Models ?? ["iris", "xgboost", "forest", "mnist", "nnsplit"],
        };
        Console.WriteLine("# ModelInService scaling: session copies x intra-op threads, and memory per copy");
        Console.WriteLine();
        Console.WriteLine(Invariant($"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}. {settings.Callers} closed-loop callers, UseBatching() defaults, {settings.Seconds:0.#} s windows, {settings.Rounds(false)} interleaved round(s); ratios to the library's default layout on this machine (2 copies, intra-op 1, MaxConcurrency 2)."));
        var reports = new List<ModelReport>();
        foreach (var workload in LoadWorkloads.Available(settings.Models, quick: false, Console.Out).Where(w => !w.Heavy || settings.Models.Contains(w.Key)))
        {
            var report = await workload.ScalingAsync(settings);
            reports.Add(report);
        }

        Console.WriteLine();
        Console.WriteLine("## Throughput by layout (best round; x default layout)");
        Console.WriteLine();
        var layouts = ModelBench<IrisInput, IrisOutput, float>.ScalingLayouts;
        Console.WriteLine("| model | " + string.Join(" | ", layouts.Select(l => Invariant($"{l.Copies} cop{(l.Copies == 1 ? "y" : "ies")} x intra {l.IntraOp}, conc {l.Concurrency}"))) + " |");
        Console.WriteLine("|---|" + string.Concat(layouts.Select(_ => "--:|")));
        foreach (var report in reports)
        {
            var cells = layouts.Select(l => report.Rows.Where(r => r.Mode == Invariant($"copies{l.Copies}-intra{l.IntraOp}-conc{l.Concurrency}")).MaxBy(r => r.ItemsPerSec))
                .Select(r => r is null ? "-" : Invariant($"{r.ItemsPerSec:N0} ({r.RatioToBatched:0.00}x)"));
            Console.WriteLine($"| {report.Key} | {string.Join(" | ", cells)} |");
        }

        // Memory: a fresh process per (model, copies), so freed native memory of an earlier load cannot be reused.
        Console.WriteLine();
        Console.WriteLine("## Memory per copy (fresh process per row: VmRSS and managed heap after loading and warming N copies, minus before)");
        Console.WriteLine();
        Console.WriteLine("| model | file MB | " + string.Join(" | ", CopyCounts.Select(n => Invariant($"{n} cop{(n == 1 ? "y" : "ies")}: RSS / managed delta MB"))) + " | per extra copy: RSS MB (native MB) |");
        Console.WriteLine("|---|--:|" + string.Concat(CopyCounts.Select(_ => "--:|")) + "--:|");
        var memory = new List<object>();
        var memoryModels = settings.Models.Contains("superres") ? settings.Models : [.. settings.Models, "superres"];
        foreach (var workload in LoadWorkloads.Available(memoryModels, quick: false, TextWriter.Null))
        {
            var results = new List<MemoryResult>();
            foreach (var n in CopyCounts)
            {
                results.Add(JsonSerializer.Deserialize<MemoryResult>(await SelfProcess.RunAsync("scaling-mem", workload.Key, n.ToString(CultureInfo.InvariantCulture)), Json)!);
            }

            static double Mb(long bytes) => bytes / 1048576.0;
            var rss = results.Select(r => r.RssAfter - r.RssBefore).ToList();
            var managed = results.Select(r => r.ManagedAfter - r.ManagedBefore).ToList();
            var perCopy = (rss[^1] - rss[0]) / (double)(CopyCounts[^1] - CopyCounts[0]);
            var perCopyManaged = (managed[^1] - managed[0]) / (double)(CopyCounts[^1] - CopyCounts[0]);
            var cells = results.Select((r, i) => Invariant($"{Mb(rss[i]):0.0} / {Mb(managed[i]):0.00}"));
            Console.WriteLine(Invariant($"| {workload.Key} | {new FileInfo(workload.Path).Length / 1048576.0:0.00} | {string.Join(" | ", cells)} | {perCopy / 1048576.0:0.0} ({(perCopy - perCopyManaged) / 1048576.0:0.0}) |"));
            memory.Add(new { model = workload.Key, file_bytes = new FileInfo(workload.Path).Length, results, rss_per_extra_copy = perCopy, native_per_extra_copy = perCopy - perCopyManaged });
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        Console.WriteLine();
        Console.WriteLine(Invariant($"Total time: {elapsed.TotalSeconds:0} s"));
        if (parsed.JsonPath is { } path)
        {
            var document = new { command = "scaling " + string.Join(' ', args), rows = reports.SelectMany(r => r.Rows).ToList(), memory, total_seconds = elapsed.TotalSeconds };
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(document, Json));
            Console.WriteLine($"Wrote {path}");
        }

        return 0;
    }

    /// <summary>The child process of the memory table: <c>scaling-mem MODEL COPIES</c>; prints one JSON line.</summary>
    public static async Task<int> MemoryChildAsync(string[] args)
    {
        var workload = LoadWorkloads.Available([args[0]], quick: false, TextWriter.Null).Single();
        var result = await workload.MemoryAsync(int.Parse(args[1], CultureInfo.InvariantCulture));
        Console.WriteLine(JsonSerializer.Serialize(result, Json));
        return 0;
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
