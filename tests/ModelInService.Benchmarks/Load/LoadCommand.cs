using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// The load harness: the dynamic batcher against a naive baseline and the model's batched limit, per model, in one run.
/// <code>
/// dotnet run -c Release --project tests/ModelInService.Benchmarks -- load [--quick] [--seconds S] [--callers 64]
///     [--json PATH] [--models iris,xgboost,forest,mnist,nnsplit,superres] [--modes naive,limit,batched,plain,halfload] [--ablations]
/// dotnet run -c Release --project tests/ModelInService.Benchmarks -- load --compare run1.json run2.json
/// </code>
/// See docs/batching-performance.md for what each mode measures.
/// </summary>
internal static class LoadCommand
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine("load [--quick] [--seconds S] [--callers N] [--json PATH] [--models iris,xgboost,forest,mnist,nnsplit,superres] [--modes naive,limit,mlnet,batched,cache,monitor[,plain,halfload]] [--rounds N] [--ablations] [--alloc-profile]");
            Console.WriteLine("load --compare A.json B.json [...]   (variability between runs)");
            Console.WriteLine("load --batcher-only [--seconds S] [--alloc-profile] [--queue channel|concurrent] [--case TEXT]   (the batcher with a no-op model)");
            Console.WriteLine("load --timers   (how late timer-based and blocking waits fire on this machine)");
            Console.WriteLine("load --streams [--seconds S] [--modes naive,batched] [--max-delay-ms 8] [--max-batch 128] [--no-idle-dispatch] [--at N] [--cost]   (real-time Silero VAD streams served with chunk p99 < 32 ms; --cost: the model's time per batch size)");
            Console.WriteLine("--modes also takes batched-default (only the default configuration; for profiling); --alloc-profile samples allocations by type");
            return 0;
        }

        if (args.Contains("--streams"))
        {
            return await StreamLoad.RunAsync(args);
        }

        if (args.Length > 0 && args[0] == "--compare")
        {
            return Compare(args[1..]);
        }

        if (args.Contains("--timers"))
        {
            return await TimerProbe.RunAsync();
        }

        var settings = LoadSettings.Parse(args);
        if (args.Contains("--batcher-only"))
        {
            var queue = Array.IndexOf(args, "--queue") is var at and >= 0 && at + 1 < args.Length && args[at + 1] == "channel"
                ? ModelInService.Batching.BatchQueueKind.Channel
                : ModelInService.Batching.BatchQueueKind.ConcurrentQueue;
            var only = Array.IndexOf(args, "--case") is var c and >= 0 && c + 1 < args.Length ? args[c + 1] : null;
            return await BatcherOnly.RunAsync(settings, settings.AllocationProfile, queue, only);
        }

        var started = Stopwatch.GetTimestamp();
        var machine = Machine();
        Console.WriteLine($"# ModelInService load harness{(settings.Quick ? " (--quick)" : "")}");
        Console.WriteLine();
        Console.WriteLine($"Machine: {machine}");
        Console.WriteLine(Invariant($"Callers: {settings.Callers} closed-loop async callers; window {settings.Seconds:0.##} s per measurement (heavy models at least 15 s), warm-up {settings.Warmup(false).TotalSeconds:0.##} s; {settings.Rounds(false)} interleaved round(s) per mode (heavy: {settings.Rounds(true)}); modes: {string.Join(",", settings.Modes)}"));
        Console.WriteLine($"Command line: load {string.Join(' ', args)}");

        CpuSpeed.Probe(); // reference for the "CPU speed" column
        var workloads = LoadWorkloads.Available(settings.Models, settings.Quick, Console.Out);
        var reports = new List<ModelReport>();
        foreach (var workload in workloads)
        {
            try
            {
                var report = await workload.MeasureAsync(settings);
                reports.Add(report);
                PrintModel(report);
            }
            catch (Exception ex) when (ex is ModelLoadException or OnnxRuntimeException or InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException)
            {
                Console.WriteLine($"  {workload.Name} failed: {ex.GetType().Name}: {ex.Message}");
            }
        }

        PrintSummary(reports);
        var elapsed = Stopwatch.GetElapsedTime(started);
        Console.WriteLine();
        Console.WriteLine(Invariant($"Total time: {elapsed.TotalSeconds:0} s"));

        if (settings.JsonPath is { } path)
        {
            var document = new
            {
                machine,
                command = "load " + string.Join(' ', args),
                quick = settings.Quick,
                callers = settings.Callers,
                seconds = settings.Seconds,
                total_seconds = elapsed.TotalSeconds,
                rows = reports.SelectMany(r => r.Rows).ToList(),
                limit_sweep = reports.SelectMany(r => r.Sweep.Select(p => new { model = r.Key, point = p })).ToList(),
                half_load = reports.SelectMany(r => r.HalfLoad.Select(h => new { model = r.Key, result = h })).ToList(),
                verdicts = reports.ToDictionary(r => r.Key, r => r.Verdicts),
                monitor_paired_median = reports.ToDictionary(r => r.Key, r => r.MonitorPairedMedian),
                notes = reports.ToDictionary(r => r.Key, r => r.Notes),
            };
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }

            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(document, Json));
            Console.WriteLine($"Wrote {path}");
        }

        return 0;
    }

    private static void PrintModel(ModelReport report)
    {
        Console.WriteLine();
        Console.WriteLine($"### {report.Name}");
        Console.WriteLine();
        Console.WriteLine("| mode | items/s | p50 ms | p95 ms | p99 ms | B/req | x naive | x limit | x ML.NET | x batched | mean batch | CPU us/item | pool items/req | lock cont./1k | queue wait p99 ms | batch run ms | gen0/gen2 | pool threads | other procs (cores) | CPU speed | timeouts / lost / dead workers | config |");
        Console.WriteLine("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
        foreach (var row in report.Rows)
        {
            if (row.NaReason is not null)
            {
                Console.WriteLine($"| {row.Mode} | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | | | | | | | | | | | | {row.NaReason} |");
                continue;
            }

            var isBest = row.Rounds is not null;
            var mode = row.Mode + (row.Round is { } round && (round > 1 || isBest) ? $" r{round}" : "") + (isBest && row.Rounds!.Count > 1 ? "*" : "")
                + (row.Mode == report.NaiveChoice && isBest ? " (baseline)" : "") + (row.Mode == report.MlNetChoice && isBest ? " (ML.NET baseline)" : "");
            Console.WriteLine(Invariant($"| {mode} | {row.ItemsPerSec:N0} | {F(row.P50Ms, "0.###")} | {F(row.P95Ms, "0.###")} | {F(row.P99Ms, "0.###")} | {F(row.BytesPerRequest, "N0")} | {F(row.RatioToNaive, "0.00")} | {F(row.RatioToLimit, "0.00")} | {F(row.RatioToMlnet, "0.00")} | {F(row.RatioToBatched, "0.00")} | {F(row.MeanBatch, "0.0")} | {F(row.CpuUsPerItem, "0.00")} | {F(row.PoolWorkItemsPerRequest, "0.00")} | {F(row.LockContentionsPer1000, "0.0")} | {F(row.QueueWaitP99Ms, "0.###")} | {F(row.BatchComputeMeanMs, "0.###")} | {(row.Gen0 is null ? "" : $"{row.Gen0}/{row.Gen2}")} | {row.PoolThreads?.ToString(CultureInfo.InvariantCulture) ?? ""} | {F(row.OtherProcessCores, "0.00")} | {F(row.CpuSpeed, "0.00")} | {Failures(row)} | {row.Config} |"));
        }

        if (report.Sweep.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("Limit sweep (raw ORT, pre-built batches, items/s; mean ms per run in brackets):");
            Console.WriteLine();
            var layouts = report.Sweep.Where(p => p.Kind == "pure").Select(p => (p.Workers, p.IntraOp, p.Copies)).Distinct().ToList();
            Console.WriteLine("| batch | " + string.Join(" | ", layouts.Select(l => SweepPoint.LayoutName(l.Workers, l.IntraOp, l.Copies))) + " |");
            Console.WriteLine("|--:|" + string.Concat(layouts.Select(_ => "--:|")));
            foreach (var batch in report.Sweep.Where(p => p.Kind == "pure").Select(p => p.Batch).Distinct().Order())
            {
                var cells = layouts.Select(l => report.Sweep.FirstOrDefault(p => p.Kind == "pure" && p.Batch == batch && p.Is(l)))
                    .Select(p => p is null ? "-" : Invariant($"{p.ItemsPerSecond:N0} ({p.RunMsMean:0.###})"));
                Console.WriteLine($"| {batch} | {string.Join(" | ", cells)} |");
            }
        }

        if (report.Verdicts.Count > 0)
        {
            Console.WriteLine();
            foreach (var verdict in report.Verdicts)
            {
                Console.WriteLine($"- {verdict}");
            }
        }

        foreach (var note in report.Notes)
        {
            Console.WriteLine($"- note: {note}");
        }
    }

    private static string Failures(LoadRow row) =>
        (row.Errors ?? 0) + (row.LostRequests ?? 0) + (row.FaultedWorkers ?? 0) == 0 ? "" : $"{row.Errors ?? 0} / {row.LostRequests ?? 0} / {row.FaultedWorkers ?? 0}";

    private static void PrintSummary(List<ModelReport> reports)
    {
        Console.WriteLine();
        Console.WriteLine("## Summary (ratios to the naive baseline and to the limit measured in this run)");
        Console.WriteLine();
        Console.WriteLine("| model | naive items/s | limit items/s (layout) | limit / naive | ML.NET items/s (x naive) | batched default: x naive / x limit | batched best: x naive / x limit (config) | batched best x ML.NET | cache 50% repeats x batched | cache unique inputs x batched | monitored x batched (median of paired rounds) | no batching: x naive / x limit | half-load p99 / bound (best) |");
        Console.WriteLine("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var report in reports)
        {
            var naive = Top(report, report.NaiveChoice);
            var limit = report.Limit;
            var defaultRow = Top(report, "batched-default");
            var best = Top(report, "batched-best");
            var plain = Top(report, "plain");
            var half = report.HalfLoad.FirstOrDefault();
            var mlnet = Top(report, report.MlNetChoice);
            var mlnetNa = report.Rows.FirstOrDefault(r => r.Mode == "mlnet" && r.NaReason is not null);
            var cache = Top(report, "cache50");
            var unique = Top(report, "cache-unique");
            var monitored = Top(report, "monitored");
            var mlnetCell = mlnet is not null ? $"{mlnet.ItemsPerSec:N0} ({F(mlnet.RatioToNaive, "0.00")}x)" : mlnetNa is not null ? "n/a: " + mlnetNa.NaReason : "";
            Console.WriteLine(Invariant($"| {report.Key} | {(naive is null ? "" : $"{naive.ItemsPerSec:N0} ({naive.Mode})")} | {(limit is null ? "" : $"{limit.ItemsPerSecond:N0} ({limit.Layout})")} | {(naive is null || limit is null ? "" : $"{limit.ItemsPerSecond / naive.ItemsPerSec:0.0}x")} | {mlnetCell} | {Pair(defaultRow)} | {Pair(best)}{(best is null ? "" : $" ({best.Config})")} | {F(best?.RatioToMlnet, "0.00")} | {F(cache?.RatioToBatched, "0.00")} | {F(unique?.RatioToBatched, "0.00")} | {(monitored is null ? "" : $"{F(monitored.RatioToBatched, "0.00")} ({report.MonitorPairedMedian:0.000})")} | {Pair(plain)} | {(half is null ? "" : $"{half.P99Ms:0.##} / {half.BoundMs:0.##} ms {(half.Met ? "met" : "MISSED")}")} |"));
        }

        Console.WriteLine();
        foreach (var report in reports.Where(r => r.Verdicts.Count > 0))
        {
            Console.WriteLine($"{report.Key}:");
            foreach (var verdict in report.Verdicts)
            {
                Console.WriteLine($"  - {verdict}");
            }
        }

        static string Pair(LoadRow? row) => row is null ? "" : Invariant($"{F(row.RatioToNaive, "0.00")} / {F(row.RatioToLimit, "0.00")}{(row.RoundSpread is { } spread && row.Rounds!.Count > 1 ? $" (rounds spread {spread:P0})" : "")}");
        static LoadRow? Top(ModelReport report, string? mode) => report.Rows.Where(r => r.Mode == mode).MaxBy(r => r.ItemsPerSec);
    }

    /// <summary>Prints, per row present in every file, each run's items/s and ratios and the spread between runs.</summary>
    private static int Compare(string[] files)
    {
        if (files.Length < 2)
        {
            Console.Error.WriteLine("load --compare needs two or more JSON files written by load --json.");
            return 2;
        }

        var runs = files.Select(f => JsonNode.Parse(File.ReadAllText(f))!["rows"]!.AsArray()
            .Select(n => n!.AsObject())
            .GroupBy(n => (Model: (string)n["model"]!, Mode: (string)n["mode"]!, Config: (string)n["config"]!))
            .ToDictionary(g => g.Key, g => g.MaxBy(n => (double)n["items_per_sec"]!)!)).ToList();
        Console.WriteLine($"Variability across {files.Length} runs: {string.Join(", ", files)}");
        Console.WriteLine();
        Console.WriteLine("| model | mode | items/s per run | spread | x naive per run | x limit per run |");
        Console.WriteLine("|---|---|--:|--:|--:|--:|");
        foreach (var key in runs[0].Keys)
        {
            if (key.Mode is "batched-search" or "batched-winner" or "limit" or "limit-e2e" or "batched-best" || !runs.All(r => r.ContainsKey(key)))
            {
                continue;
            }

            var rows = runs.Select(r => r[key]).ToList();
            var rates = rows.Select(r => (double)r["items_per_sec"]!).ToList();
            var spread = (rates.Max() - rates.Min()) / rates.Average();
            Console.WriteLine(Invariant($"| {key.Model} | {key.Mode} | {string.Join(" / ", rates.Select(v => v.ToString("N0", CultureInfo.InvariantCulture)))} | {spread:P0} | {string.Join(" / ", rows.Select(r => F((double?)r["ratio_to_naive"], "0.00")))} | {string.Join(" / ", rows.Select(r => F((double?)r["ratio_to_limit"], "0.00")))} |"));
        }

        // The limit and batched-best may have a different layout or configuration in each run: compare them by mode.
        foreach (var mode in new[] { "limit", "batched-best" })
        {
            Console.WriteLine();
            Console.WriteLine($"| model | {mode} per run (layout or configuration) | spread | x naive per run | x limit per run |");
            Console.WriteLine("|---|---|--:|--:|--:|");
            foreach (var model in runs[0].Keys.Select(k => k.Model).Distinct())
            {
                var rows = runs.Select(r => r.Values.Where(v => (string)v["model"]! == model && (string)v["mode"]! == mode).MaxBy(v => (double)v["items_per_sec"]!)).ToList();
                if (rows.Any(b => b is null))
                {
                    continue;
                }

                var rates = rows.Select(b => (double)b!["items_per_sec"]!).ToList();
                Console.WriteLine(Invariant($"| {model} | {string.Join(" / ", rows.Select(b => $"{(double)b!["items_per_sec"]!:N0} ({(string)b["config"]!})"))} | {(rates.Max() - rates.Min()) / rates.Average():P0} | {string.Join(" / ", rows.Select(b => F((double?)b!["ratio_to_naive"], "0.00")))} | {string.Join(" / ", rows.Select(b => F((double?)b!["ratio_to_limit"], "0.00")))} |"));
            }
        }

        return 0;
    }

    private static string Machine()
    {
        var cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return $"{Environment.ProcessorCount} cores ({cpu}), commit {Commit()}, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, "
            + $"{(GCSettings.IsServerGC ? "server" : "workstation")} GC{(GCSettings.LatencyMode == GCLatencyMode.Batch ? "" : " (concurrent)")}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}";
    }

    /// <summary>The checked-out commit, read from .git without running git (uncommitted changes are not visible here).</summary>
    private static string Commit()
    {
        try
        {
            var git = Path.Combine(Paths.RepoRoot, ".git");
            var head = File.ReadAllText(Path.Combine(git, "HEAD")).Trim();
            if (!head.StartsWith("ref: ", StringComparison.Ordinal))
            {
                return head[..Math.Min(12, head.Length)];
            }

            var reference = head[5..];
            var file = Path.Combine(git, reference);
            if (File.Exists(file))
            {
                return File.ReadAllText(file).Trim()[..12];
            }

            var packed = Path.Combine(git, "packed-refs");
            var line = File.Exists(packed) ? File.ReadLines(packed).FirstOrDefault(l => l.EndsWith(" " + reference, StringComparison.Ordinal)) : null;
            return line is null ? "unknown" : line[..12];
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static string F(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
