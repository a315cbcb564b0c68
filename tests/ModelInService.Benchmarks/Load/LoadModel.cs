using System.Globalization;

namespace ModelInService.Benchmarks.Load;

/// <summary>The command line of the <c>load</c> mode and the durations and grids derived from it.</summary>
internal sealed class LoadSettings
{
    public bool Quick { get; init; }

    public double Seconds { get; init; }

    public int Callers { get; init; } = 64;

    public string? JsonPath { get; init; }

    public IReadOnlyCollection<string>? Models { get; init; }

    /// <summary>naive, limit, mlnet, batched, cache, monitor, plain, halfload, ablations (the last three only when asked for).</summary>
    public IReadOnlyCollection<string> Modes { get; init; } = DefaultModes;

    /// <summary>Issue 5's set: (a) naive, (b) limit, (c) ML.NET, (d) batched, (e) cache, (f) monitoring.</summary>
    public static IReadOnlyList<string> DefaultModes { get; } = ["naive", "limit", "mlnet", "batched", "cache", "monitor"];

    /// <summary>Samples allocations by type in every served window (<c>--alloc-profile</c>).</summary>
    public bool AllocationProfile { get; init; }

    public bool Runs(string mode) => Modes.Contains(mode, StringComparer.OrdinalIgnoreCase);

    /// <summary>Interleaved rounds per mode (<c>--rounds</c>): 3 by default, 2 for heavy models, 1 with --quick.</summary>
    public int RoundsOption { get; init; }

    public int Rounds(bool heavy) => RoundsOption > 0 ? RoundsOption : Quick ? 1 : heavy ? 2 : 3;

    public TimeSpan Warmup(bool heavy) => TimeSpan.FromSeconds(heavy ? 3 : Quick ? 0.25 : 1);

    public TimeSpan Window(bool heavy) => TimeSpan.FromSeconds(heavy ? Math.Max(Seconds, 15) : Seconds);

    /// <summary>Candidate configurations are compared on shorter windows; the winner is measured again on a full one.</summary>
    public TimeSpan SearchWindow(bool heavy) => heavy || Quick ? Window(heavy) : TimeSpan.FromSeconds(Math.Max(1, Seconds / 2));

    /// <summary>How long callers may still wait for their last request after a window before it counts as lost.</summary>
    public TimeSpan StuckAfter => TimeSpan.FromSeconds(Quick ? 5 : 35);

    public TimeSpan SweepWarmup => TimeSpan.FromSeconds(Quick ? 0.03 : 0.1);

    public TimeSpan SweepWindow => TimeSpan.FromSeconds(Quick ? 0.08 : 0.4);

    public int[] SweepBatches => Quick ? [1, 4, 16, 64, 256] : [1, 2, 4, 8, 16, 32, 64, 128, 256];

    /// <summary>Workers x intra-op threads x sessions (one shared, or one per worker as the library's default pool).</summary>
    public (int Workers, int IntraOp, int Copies)[] SweepLayouts => Quick
        ? [(1, 1, 1), (2, 1, 2), (1, 2, 1)]
        : [(1, 1, 1), (2, 1, 1), (2, 1, 2), (1, 2, 1), (2, 2, 1), (2, 2, 2)];

    /// <summary>The configurations tried for the best batched throughput (the default is measured separately).</summary>
    public ServeConfig[] Candidates(bool heavy)
    {
        if (heavy)
        {
            return [ServeConfig.Batched(4, 5, 2), ServeConfig.Batched(8, 5, 2)];
        }

        if (Quick)
        {
            return [ServeConfig.Batched(64, 2, 2), ServeConfig.Strict(32, 2, 2)];
        }

        var list = new List<ServeConfig>();
        foreach (var size in new[] { 32, 64, 128 })
        {
            foreach (var delay in new[] { 1.0, 2.0, 5.0 })
            {
                list.Add(ServeConfig.Batched(size, delay, 2));
            }
        }

        // The strict rule (no work-conserving early dispatch) at the default size.
        list.Add(ServeConfig.Strict(32, 2, 2));
        return [.. list];
    }

    public static LoadSettings Parse(string[] args)
    {
        var quick = args.Contains("--quick");
        var models = Value(args, "--models");
        var modes = Value(args, "--modes");
        var modeList = modes?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
            ?? [.. DefaultModes];
        if (args.Contains("--ablations") && !modeList.Contains("ablations"))
        {
            modeList.Add("ablations");
        }

        return new LoadSettings
        {
            Quick = quick,
            Seconds = Value(args, "--seconds") is { } s ? double.Parse(s, CultureInfo.InvariantCulture) : quick ? 0.5 : 3,
            Callers = Value(args, "--callers") is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : 64,
            JsonPath = Value(args, "--json"),
            Models = models?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Modes = modeList,
            AllocationProfile = args.Contains("--alloc-profile"),
            RoundsOption = Value(args, "--rounds") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : 0,
        };
    }

    private static string? Value(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}

/// <summary>How ModelInService is configured for one served measurement.</summary>
internal sealed record ServeConfig(string Label, bool Batching, bool IsDefault = false, int MaxBatchSize = 32, double MaxDelayMs = 2, int MaxConcurrency = 0, int IntraOp = 0, bool NoDeadline = false, bool Adaptive = false, bool? DispatchWhenIdle = null)
{
    /// <summary>ModelOptions.SessionCopies (0 = the library's default) and AllowThreadOversubscription.</summary>
    public int SessionCopies { get; init; }

    public bool Oversubscribe { get; init; }

    /// <summary>UseMonitoring() with default options.</summary>
    public bool Monitor { get; init; }

    /// <summary>UseCaching with this MaxEntries (0 = no cache).</summary>
    public int CacheEntries { get; init; }

    /// <summary>The inputs the callers send instead of the model's 256 (a TIn[]; each caller walks its own stretch).</summary>
    public Array? CacheStream { get; init; }

    /// <summary>AddModel with only the source, UseBatching() with no changes.</summary>
    public static ServeConfig DefaultBatched { get; } = new("default: MaxBatchSize 32, MaxDelay 2 ms, MaxConcurrency = cores", true, IsDefault: true);

    /// <summary>AddModel with only the source, no batching.</summary>
    public static ServeConfig Plain { get; } = new("default ModelOptions, no batching", false, IsDefault: true);

    public static ServeConfig Batched(int maxBatch, double delayMs, int concurrency) =>
        new(string.Create(CultureInfo.InvariantCulture, $"MaxBatchSize {maxBatch}, MaxDelay {delayMs:0.#} ms, MaxConcurrency {concurrency}"), true, false, maxBatch, delayMs, concurrency);

    /// <summary>The strict dispatch rule: only at MaxBatchSize or MaxDelay (DispatchWhenIdle = false).</summary>
    public static ServeConfig Strict(int maxBatch, double delayMs, int concurrency) =>
        Batched(maxBatch, delayMs, concurrency) with { Label = string.Create(CultureInfo.InvariantCulture, $"MaxBatchSize {maxBatch}, MaxDelay {delayMs:0.#} ms, MaxConcurrency {concurrency}, DispatchWhenIdle off"), DispatchWhenIdle = false };

    public int EffectiveConcurrency => MaxConcurrency > 0 ? MaxConcurrency : Environment.ProcessorCount;

    public int EffectiveIntraOp => IntraOp > 0 ? IntraOp : Math.Max(1, Environment.ProcessorCount / EffectiveConcurrency);
}

/// <summary>One printed (and JSON) row. Null means "not applicable" (JSON cannot hold NaN).</summary>
internal sealed class LoadRow
{
    public required string Model { get; init; }

    public required string Mode { get; init; }

    public string Config { get; init; } = "";

    /// <summary>Which measurement of this mode (1 = the first round).</summary>
    public int? Round { get; set; }

    /// <summary>On a mode's best round: the items/s of every round, in order.</summary>
    public IReadOnlyList<double>? Rounds { get; set; }

    /// <summary>On a mode's best round: (max - min) / max over its rounds.</summary>
    public double? RoundSpread { get; set; }

    public double ItemsPerSec { get; init; }

    public double? P50Ms { get; init; }

    public double? P95Ms { get; init; }

    public double? P99Ms { get; init; }

    public double? BytesPerRequest { get; init; }

    /// <summary>The measured window on CLOCK_MONOTONIC (seconds), to slice a <c>perf record -k CLOCK_MONOTONIC</c> profile.</summary>
    public double? WindowStartS { get; init; }

    public double? WindowEndS { get; init; }

    public double? RatioToNaive { get; set; }

    public double? RatioToLimit { get; set; }

    /// <summary>Ratio to the ML.NET peer (PredictionEngine pool) of this run.</summary>
    public double? RatioToMlnet { get; set; }

    /// <summary>Ratio to batched-default of this run (for the cache and monitoring modes: their gain or cost).</summary>
    public double? RatioToBatched { get; set; }

    /// <summary>Set when the mode cannot run this model (the row is n/a; items/s is 0 and every ratio null).</summary>
    public string? NaReason { get; init; }

    public double? MeanBatch { get; init; }

    public double? CpuUsPerItem { get; init; }

    public double? PoolWorkItemsPerRequest { get; init; }

    public double? LockContentionsPer1000 { get; init; }

    public int? Gen0 { get; init; }

    public int? Gen2 { get; init; }

    public int? PoolThreads { get; init; }

    /// <summary>Single-core speed just before the window relative to the start of the run (<see cref="CpuSpeed"/>).</summary>
    public double? CpuSpeed { get; init; }

    /// <summary>Average cores used by other processes during the window (another engineer's tests).</summary>
    public double? OtherProcessCores { get; init; }

    public long? Errors { get; init; }

    /// <summary>Batched modes: time from enqueue until a batch worker took the request (p99), from the batcher's own events.</summary>
    public double? QueueWaitP99Ms { get; init; }

    /// <summary>Batched modes: mean time of one batch's model run (pack, run, unpack) inside the batcher.</summary>
    public double? BatchComputeMeanMs { get; init; }

    /// <summary>Callers whose request never completed (abandoned 35 s, or 5 s with --quick, after the window).</summary>
    public int? LostRequests { get; init; }

    /// <summary>Batched modes: batcher worker loops found dead (faulted) after the window.</summary>
    public int? FaultedWorkers { get; init; }

    /// <summary>With --alloc-profile: sampled allocated bytes per request by type.</summary>
    public IReadOnlyDictionary<string, double>? AllocationsByType { get; init; }

    /// <summary>Half load: the offered rate (requests/s).</summary>
    public double? OfferedPerSec { get; init; }

    /// <summary>Half load: MaxDelay + 2 x one batch's compute time at the observed batch size.</summary>
    public double? BoundMs { get; init; }

    public static double? N(double value) => double.IsNaN(value) || double.IsInfinity(value) ? null : value;
}

internal sealed class HalfLoadResult
{
    public required string Config { get; init; }

    public double MaxDelayMs { get; init; }

    public double OfferedPerSec { get; init; }

    public double AchievedPerSec { get; init; }

    public double P50Ms { get; init; }

    public double P99Ms { get; init; }

    public double MeanBatch { get; init; }

    /// <summary>The sweep's batch size used for the bound (the observed mean rounded up to a swept size).</summary>
    public int BoundBatch { get; init; }

    public double SweepComputeMs { get; init; }

    public double BoundMs { get; init; }

    /// <summary>Batch compute time measured inside the batcher at half load (listener): mean and p99.</summary>
    public double ObservedComputeMeanMs { get; init; }

    public double ObservedComputeP99Ms { get; init; }

    public double QueueWaitP99Ms { get; init; }

    public double BoundAtMaxBatchMs { get; init; }

    public bool Met => P99Ms <= BoundMs;
}

internal sealed class ModelReport
{
    public required string Key { get; init; }

    public required string Name { get; init; }

    public List<LoadRow> Rows { get; } = [];

    public List<SweepPoint> Sweep { get; } = [];

    public List<HalfLoadResult> HalfLoad { get; } = [];

    public List<string> Verdicts { get; } = [];

    public List<string> Notes { get; } = [];

    public string? NaiveChoice { get; set; }

    public string? MlNetChoice { get; set; }

    /// <summary>Monitored / batched-default, median over the rounds (each pair measured next to each other).</summary>
    public double? MonitorPairedMedian { get; set; }

    public SweepPoint? Limit { get; set; }
}
