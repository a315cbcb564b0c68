using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Batching;
using ModelInService.Hosting;

namespace ModelInService.Benchmarks.Load;

/// <summary>Measures one model in every mode, in one process, so every figure can be a ratio to baselines of the same run.</summary>
internal sealed class ModelBench<TIn, TOut, T>(Workload<TIn, TOut, T> workload, LoadSettings settings)
    where T : unmanaged
{
    private const string ModelName = "m";

    private readonly ModelReport _report = new() { Key = workload.Key, Name = workload.Name };
    private readonly bool _heavy = workload.Heavy;
    private TIn[] _inputs = [];
    private double _naive = double.NaN;
    private double _limit = double.NaN;

    public async Task<ModelReport> RunAsync()
    {
        _inputs = workload.MakeInputs(_heavy ? 16 : 256, seed: 42);
        Console.WriteLine();
        Console.WriteLine($"## {workload.Name}  ({workload.Path})");

        // Round 1: every mode once, plus the choices (naive variant, limit sweep, batching configuration).
        if (settings.Runs("naive"))
        {
            await NaiveFirstRoundAsync();
        }

        if (settings.Runs("limit"))
        {
            Limit();
        }

        if (settings.Runs("mlnet"))
        {
            await MlNetFirstRoundAsync();
        }

        ServeConfig? winner = null;
        if (settings.Runs("batched"))
        {
            winner = await SearchAsync();
        }
        else if (settings.Runs("batched-default"))
        {
            await MeasureServedAsync(ServeConfig.DefaultBatched, "batched-default");
            await MonitoredAsync();
        }

        if (settings.Runs("cache"))
        {
            await CacheModesAsync();
        }

        if (settings.Runs("plain"))
        {
            await MeasureServedAsync(ServeConfig.Plain, "plain");
        }

        // Rounds 2..N, interleaved: the machine's speed drifts (other tenants, other processes), so each mode is
        // measured once per round and reported by its best round; a slow period then hits every mode alike.
        for (var round = 2; round <= settings.Rounds(_heavy); round++)
        {
            Console.WriteLine($"  -- round {round}");
            if (settings.Runs("naive") && _naiveChoice is { } choice)
            {
                await MeasureNaiveAsync(choice.IntraOp, choice.Mode, choice.Label);
            }

            if (settings.Runs("limit"))
            {
                RecheckLimit();
            }

            if (settings.Runs("mlnet") && _mlnetChoice is { } mlnetChoice)
            {
                await MeasureMlNetAsync(mlnetChoice.IntraOp, mlnetChoice.Mode, mlnetChoice.Label);
            }

            if (settings.Runs("batched") || settings.Runs("batched-default"))
            {
                // The monitored run sits next to the default it is compared with, in alternating order.
                if (round % 2 == 0)
                {
                    await MonitoredAsync();
                }

                await MeasureServedAsync(ServeConfig.DefaultBatched, "batched-default");
                if (round % 2 == 1)
                {
                    await MonitoredAsync();
                }

                if (winner is not null && !ReferenceEquals(winner, ServeConfig.DefaultBatched))
                {
                    await MeasureServedAsync(winner, "batched-winner");
                }
            }

            if (settings.Runs("cache"))
            {
                await CacheModesAsync();
            }

            if (settings.Runs("plain"))
            {
                await MeasureServedAsync(ServeConfig.Plain, "plain");
            }
        }

        // Each mode by its best round.
        var naiveRows = Best("naive-default", "naive-intra1");
        var defaultRow = Best("batched-default");
        var winnerRow = Best("batched-winner");
        var plainRow = Best("plain");
        var mlnetRow = Best("mlnet-default", "mlnet-intra1");
        var monitoredRow = Best("monitored");
        var cacheRow = Best("cache50");
        var cacheUniqueRow = Best("cache-unique");
        if (naiveRows is not null)
        {
            _naive = naiveRows.ItemsPerSec;
            _report.NaiveChoice = naiveRows.Mode;
        }

        if (mlnetRow is not null)
        {
            _mlnet = mlnetRow.ItemsPerSec;
            _report.MlNetChoice = mlnetRow.Mode;
        }

        var batchedBaseline = defaultRow?.ItemsPerSec ?? double.NaN;

        LoadRow? best = null;
        ServeConfig? bestConfig = null;
        if (defaultRow is not null)
        {
            (best, bestConfig) = winnerRow is not null && winner is not null && winnerRow.ItemsPerSec > defaultRow.ItemsPerSec
                ? (Clone(winnerRow, "batched-best"), winner)
                : (Clone(defaultRow, "batched-best"), ServeConfig.DefaultBatched);
            if (settings.Runs("batched"))
            {
                _report.Rows.Add(best);
            }
        }

        if (settings.Runs("halfload") && defaultRow is not null && best is not null && bestConfig is not null)
        {
            await HalfLoadAsync(bestConfig, best.ItemsPerSec, "halfload-best");
            if (!settings.Quick && !_heavy && !ReferenceEquals(bestConfig, ServeConfig.DefaultBatched))
            {
                await HalfLoadAsync(ServeConfig.DefaultBatched, defaultRow.ItemsPerSec, "halfload-default");
            }
        }

        if (settings.Runs("ablations"))
        {
            await AblationsAsync();
        }

        foreach (var row in _report.Rows.Where(r => r.NaReason is null))
        {
            row.RatioToNaive = LoadRow.N(row.ItemsPerSec / _naive);
            row.RatioToLimit = LoadRow.N(row.ItemsPerSec / _limit);
            row.RatioToMlnet = LoadRow.N(row.ItemsPerSec / _mlnet);
            row.RatioToBatched = LoadRow.N(row.ItemsPerSec / batchedBaseline);
        }

        Verdicts(defaultRow, best);
        Issue5Verdicts(defaultRow, best, mlnetRow, monitoredRow, cacheRow, cacheUniqueRow);
        return _report;
    }

    private (int? IntraOp, string Mode, string Label)? _naiveChoice;

    private (int? IntraOp, string Mode, string Label)? _mlnetChoice;

    /// <summary>(copies, intra-op threads per copy, MaxConcurrency) for the scaling mode; the second is the library's default on 2 cores.</summary>
    public static (int Copies, int IntraOp, int Concurrency)[] ScalingLayouts { get; } = [(1, 1, 1), (2, 1, 2), (1, 2, 1), (1, 1, 2), (2, 2, 2), (4, 1, 4)];

    /// <summary>Scaling: served throughput (default batching) per session layout, interleaved rounds; ratios to the library's default layout.</summary>
    public async Task<ModelReport> ScalingAsync()
    {
        _inputs = workload.MakeInputs(_heavy ? 16 : 256, seed: 42);
        Console.WriteLine();
        Console.WriteLine($"## {workload.Name}  ({workload.Path})");
        var cores = Environment.ProcessorCount;
        for (var round = 1; round <= settings.Rounds(_heavy); round++)
        {
            foreach (var (copies, intraOp, concurrency) in ScalingLayouts)
            {
                var config = ServeConfig.Batched(32, 2, concurrency) with
                {
                    Label = Invariant($"SessionCopies {copies}, IntraOpThreads {intraOp}, MaxConcurrency {concurrency}{(copies * intraOp > cores ? $" ({copies * intraOp} threads on {cores} cores: AllowThreadOversubscription)" : "")}; UseBatching() defaults"),
                    IntraOp = intraOp,
                    SessionCopies = copies,
                    Oversubscribe = copies * intraOp > cores,
                };
                await MeasureServedAsync(config, Invariant($"copies{copies}-intra{intraOp}-conc{concurrency}"));
            }
        }

        var reference = Best(Invariant($"copies{ScalingLayouts[1].Copies}-intra{ScalingLayouts[1].IntraOp}-conc{ScalingLayouts[1].Concurrency}"));
        foreach (var (copies, intraOp, concurrency) in ScalingLayouts)
        {
            _ = Best(Invariant($"copies{copies}-intra{intraOp}-conc{concurrency}"));
        }

        foreach (var row in _report.Rows)
        {
            row.RatioToBatched = reference is null ? null : LoadRow.N(row.ItemsPerSec / reference.ItemsPerSec);
        }

        return _report;
    }

    /// <summary>In a fresh child process: resident and managed memory before and after loading a model with N copies.</summary>
    public async Task<MemoryResult> MemoryAsync(int copies)
    {
        OrtEnv.Instance();
        var before = MemoryResult.Take();
        var services = new ServiceCollection();
        services.AddModel<TIn, TOut>(ModelName, o =>
        {
            o.Source = ModelSource.FromFile(workload.Path);
            o.SessionCopies = copies;
            o.MaxConcurrency = copies;
            o.IntraOpThreads = 1;
            o.AllowThreadOversubscription = true;
        });
        await using var provider = services.BuildServiceProvider();
        await provider.StartModelsAsync();
        var after = MemoryResult.Take();
        return new MemoryResult { Copies = copies, RssBefore = before.Rss, RssAfter = after.Rss, ManagedBefore = before.Managed, ManagedAfter = after.Managed };
    }

    private double _mlnet = double.NaN;

    private TIn[]? _cache50;

    private TIn[]? _cacheUnique;

    /// <summary>ML.NET: both session variants in round 1 (the peer gets its better one), like the naive baseline.</summary>
    private async Task MlNetFirstRoundAsync()
    {
        var spec = workload.MlNet;
        if (spec is null || spec.Unsupported is not null)
        {
            NotApplicable("mlnet", spec?.Unsupported ?? "no ML.NET mapping for this model");
            return;
        }

        var variants = new (int?, string, string)[]
        {
            (null, "mlnet-default", "PredictionEngine pool (DefaultObjectPool, 2 x cores engines) over ApplyOnnxModel, default session options"),
            (1, "mlnet-intra1", "PredictionEngine pool over ApplyOnnxModel, IntraOpNumThreads = 1"),
        };
        LoadRow? better = null;
        foreach (var (intraOp, mode, label) in variants)
        {
            LoadRow row;
            try
            {
                row = await MeasureMlNetAsync(intraOp, mode, label);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                NotApplicable("mlnet", $"ML.NET cannot run this model: {ex.GetType().Name}: {FirstLine(ex.Message)}");
                return;
            }

            if (better is null || row.ItemsPerSec > better.ItemsPerSec)
            {
                better = row;
                _mlnetChoice = (intraOp, mode, label);
            }
        }

        _report.Notes.Add($"mlnet: both variants in round 1, then the better one ({_mlnetChoice!.Value.Mode}) once per further round; the ML.NET baseline is the best round");
    }

    private async Task<LoadRow> MeasureMlNetAsync(int? intraOp, string mode, string label)
    {
        Collect();
        var rows = _inputs.Select(workload.Row).ToList();
        var result = await workload.MlNet!.MeasureAsync(workload.Path, intraOp, rows, settings.Callers, settings.Warmup(_heavy), settings.Window(_heavy), settings.StuckAfter);
        var row = Record(Row(mode, label, result));
        Progress(row);
        return row;
    }

    private void NotApplicable(string mode, string reason)
    {
        Console.WriteLine($"  {mode,-22} n/a: {reason}");
        _report.Rows.Add(new LoadRow { Model = workload.Key, Mode = mode, Config = "n/a", NaReason = reason });
    }

    private static string FirstLine(string text)
    {
        var line = text.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] + "..." : line;
    }

    /// <summary>The default batched configuration with UseMonitoring() (defaults), measured next to batched-default.</summary>
    private async Task MonitoredAsync()
    {
        if (!settings.Runs("monitor"))
        {
            return;
        }

        await MeasureServedAsync(ServeConfig.DefaultBatched with { Label = "default batching + UseMonitoring() (default options)", Monitor = true }, "monitored");
    }

    /// <summary>
    /// The default batched configuration with UseCaching(): (1) 50% repeats: every other request of each caller is one
    /// of a few hot inputs, the rest are inputs no other request repeats within the cache's capacity (each caller
    /// walks its own stretch of a ring much larger than MaxEntries); (2) every input unique (the cache must step aside).
    /// </summary>
    private async Task CacheModesAsync()
    {
        var (ring, hot, entries) = _heavy ? (256, 4, 16) : (16384, 128, 1024);
        if (_cache50 is null)
        {
            var hotInputs = workload.MakeInputs(hot, seed: 7);
            var unique = workload.MakeInputs(ring, seed: 11);
            if (typeof(T) == typeof(byte))
            {
                // Text windows repeat (nnsplit's rows are 32-byte windows of a few sentences): stamp each with its index.
                for (var i = 0; i < ring; i++)
                {
                    var bytes = (byte[])(object)workload.Row(unique[i]);
                    bytes[0] = (byte)('a' + (i % 26));
                    bytes[1] = (byte)('a' + (i / 26 % 26));
                    bytes[2] = (byte)('a' + (i / 676 % 26));
                }
            }
            _cache50 = new TIn[ring];
            for (var i = 0; i < ring; i++)
            {
                _cache50[i] = i % 2 == 0 ? hotInputs[(i / 2) % hot] : unique[i];
            }

            _cacheUnique = unique;
        }

        // Control: the same 50%-repeat stream without the cache (the cache's gain or cost is cache50 / this).
        await MeasureServedAsync(ServeConfig.DefaultBatched with { Label = "default batching, no cache, on the cache50 input stream (control)", CacheStream = _cache50 }, "stream-nocache");
        await MeasureServedAsync(ServeConfig.DefaultBatched with { Label = Invariant($"default batching + UseCaching(MaxEntries {entries}); 50% of requests repeat one of {hot} hot inputs, 50% unique (ring of {ring / 2:N0}, each caller its own stretch)"), CacheEntries = entries, CacheStream = _cache50 }, "cache50");
        await MeasureServedAsync(ServeConfig.DefaultBatched with { Label = Invariant($"default batching + UseCaching(MaxEntries {entries}); every input unique within the cache's capacity (ring of {ring:N0})"), CacheEntries = entries, CacheStream = _cacheUnique }, "cache-unique");
    }

    /// <summary>Issue 5's targets: the ML.NET peer beaten, the cache never below 0.95x on unique inputs, monitoring &lt;= 5%.</summary>
    private void Issue5Verdicts(LoadRow? defaultRow, LoadRow? best, LoadRow? mlnetRow, LoadRow? monitoredRow, LoadRow? cacheRow, LoadRow? cacheUniqueRow)
    {
        if (best is not null && mlnetRow is not null)
        {
            var ratio = best.ItemsPerSec / mlnetRow.ItemsPerSec;
            _report.Verdicts.Add(Invariant($"ML.NET peer beaten: {(ratio > 1 ? "MET" : "MISSED")} (batched best {ratio:0.00}x ML.NET's {mlnetRow.ItemsPerSec:N0}/s, {mlnetRow.Mode}; default {(defaultRow is null ? double.NaN : defaultRow.ItemsPerSec / mlnetRow.ItemsPerSec):0.00}x)"));
        }
        else if (_report.Rows.FirstOrDefault(r => r.Mode == "mlnet" && r.NaReason is not null) is { } na)
        {
            _report.Verdicts.Add($"ML.NET peer: n/a ({na.NaReason})");
        }

        if (defaultRow is not null && monitoredRow is not null)
        {
            var paired = PairedRatios("monitored", "batched-default");
            var median = Median(paired);
            _report.MonitorPairedMedian = LoadRow.N(median);
            var cost = 1 - median;
            _report.Verdicts.Add(Invariant($"monitoring cost <= 5%: {(cost <= 0.05 ? "MET" : "MISSED")} (monitored / batched-default, median of {paired.Count} paired round(s): {median:0.000} = {cost:P1} cost; rounds {string.Join(", ", paired.Select(p => p.ToString("0.00", CultureInfo.InvariantCulture)))}; best/best {monitoredRow.ItemsPerSec / defaultRow.ItemsPerSec:0.000})"));
        }

        if (defaultRow is not null && cacheUniqueRow is not null)
        {
            var paired = PairedRatios("cache-unique", "batched-default");
            var ratio = cacheUniqueRow.ItemsPerSec / defaultRow.ItemsPerSec;
            _report.Verdicts.Add(Invariant($"cache on unique inputs >= 0.95x: {(ratio >= 0.95 ? "MET" : "MISSED")} (best/best {ratio:0.00}x of batched-default; per round {string.Join(", ", paired.Select(p => p.ToString("0.00", CultureInfo.InvariantCulture)))})"));
        }

        if (defaultRow is not null && cacheRow is not null)
        {
            _report.Verdicts.Add(Invariant($"cache at 50% repeats: {cacheRow.ItemsPerSec / defaultRow.ItemsPerSec:0.00}x batched-default (per round {string.Join(", ", PairedRatios("cache50", "batched-default").Select(p => p.ToString("0.00", CultureInfo.InvariantCulture)))})"));
        }

        if (Best("stream-nocache") is { } control)
        {
            _report.Verdicts.Add(Invariant($"control (no cache, same 50% stream): {control.ItemsPerSec / (defaultRow?.ItemsPerSec ?? double.NaN):0.00}x batched-default; cache50 / control {(cacheRow?.ItemsPerSec ?? double.NaN) / control.ItemsPerSec:0.00}x, cache-unique / control {(cacheUniqueRow?.ItemsPerSec ?? double.NaN) / control.ItemsPerSec:0.00}x"));
        }
    }

    /// <summary>Ratio of mode a to mode b round by round (the n-th measurement of each).</summary>
    private List<double> PairedRatios(string a, string b)
    {
        if (!_measured.TryGetValue(a, out var x) || !_measured.TryGetValue(b, out var y))
        {
            return [];
        }

        return x.Zip(y, (p, q) => p.ItemsPerSec / q.ItemsPerSec).ToList();
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>All measurements of a mode, by round.</summary>
    private readonly Dictionary<string, List<LoadRow>> _measured = new(StringComparer.Ordinal);

    /// <summary>The best round of the given modes: marked in the report (the other rounds stay as "-round" rows).</summary>
    private LoadRow? Best(params string[] modes)
    {
        var all = modes.Where(_measured.ContainsKey).SelectMany(m => _measured[m]).ToList();
        if (all.Count == 0)
        {
            return null;
        }

        var best = all.MaxBy(r => r.ItemsPerSec)!;
        foreach (var mode in modes.Where(_measured.ContainsKey))
        {
            var rows = _measured[mode];
            var top = rows.MaxBy(r => r.ItemsPerSec)!;
            var rates = rows.Select(r => r.ItemsPerSec).ToList();
            top.Rounds = rates;
            top.RoundSpread = rates.Count > 1 ? (rates.Max() - rates.Min()) / rates.Max() : 0;
        }

        return best;
    }

    /// <summary>Adds a measurement of a mode: the first one is the mode's row, later ones are "-round" rows until <see cref="Best"/> picks.</summary>
    private LoadRow Record(LoadRow row)
    {
        if (!_measured.TryGetValue(row.Mode, out var list))
        {
            _measured[row.Mode] = list = [];
        }

        list.Add(row);
        _report.Rows.Add(row);
        row.Round = list.Count;
        return row;
    }

    private async Task NaiveFirstRoundAsync()
    {
        var variants = new (int?, string, string)[]
        {
            (null, "naive-default", "default SessionOptions (intra-op = cores, spinning)"),
            (1, "naive-intra1", "SessionOptions.IntraOpNumThreads = 1"),
        };
        LoadRow? better = null;
        foreach (var (intraOp, mode, label) in variants)
        {
            var row = await MeasureNaiveAsync(intraOp, mode, label);
            if (better is null || row.ItemsPerSec > better.ItemsPerSec)
            {
                better = row;
                _naiveChoice = (intraOp, mode, label);
            }
        }

        _report.Notes.Add($"naive: both variants in round 1, then the better one ({_naiveChoice!.Value.Mode}) once per further round; the baseline is the best naive round");
    }

    private async Task<LoadRow> MeasureNaiveAsync(int? intraOp, string mode, string label)
    {
        Collect();
        using var session = RawOrt.CreateSession(workload.Path, intraOp);
        var call = RawOrt.NaiveCall(workload, session);
        var result = await ClosedLoop.RunAsync<TIn, TOut>(_inputs, settings.Callers, null, call, settings.Warmup(_heavy), settings.Window(_heavy));
        var row = Record(Row(mode, label, result));
        Progress(row);
        return row;
    }

    /// <summary>Re-measures the sweep's top points (pure): the limit is the best of the sweep and every re-check.</summary>
    private void RecheckLimit()
    {
        if (_report.Limit is null)
        {
            return;
        }

        Collect();
        var candidates = _report.Sweep.Where(p => p.Kind == "pure").OrderByDescending(p => p.ItemsPerSecond).Take(_heavy ? 1 : 3).ToList();
        var pool = new SessionPool(workload.Path);
        try
        {
            foreach (var point in candidates)
            {
                var window = TimeSpan.FromSeconds(Math.Max(settings.SweepWindow.TotalSeconds * 2, 5 * point.RunMsMean / 1000));
                var again = RawOrt.Measure(workload, pool.Get(point.IntraOp, point.Copies), point.IntraOp, _inputs, point.Batch, point.Workers, settings.SweepWarmup, window, endToEnd: false) with { Kind = "pure-recheck" };
                _report.Sweep.Add(again);
                if (again.ItemsPerSecond > _limit)
                {
                    Console.WriteLine(Invariant($"  limit re-check: {again.ItemsPerSecond:N0} items/s at {again.Layout} (was {_limit:N0}); limit = the higher"));
                    _limit = again.ItemsPerSecond;
                    _report.Limit = again;
                    _report.Rows.RemoveAll(r => r.Mode == "limit");
                    _report.Rows.Insert(0, SweepRow("limit", again));
                }
            }
        }
        finally
        {
            pool.Dispose();
        }
    }

    /// <summary>The library's default pool for MaxConcurrency = cores: one worker per core, intra-op 1, one session per worker.</summary>
    private static (int Workers, int IntraOp, int Copies) LibraryLayout => (Environment.ProcessorCount, 1, Environment.ProcessorCount);

    private void Limit()
    {
        Collect();
        var pool = new SessionPool(workload.Path);
        try
        {
            var cores = Environment.ProcessorCount;
            var oneRun = new Dictionary<int, double>();
            foreach (var intraOp in settings.SweepLayouts.Select(l => l.IntraOp).Distinct())
            {
                oneRun[intraOp] = TimeOneRun(pool.Get(intraOp, 1)[0]);
            }

            var maxRunSeconds = _heavy ? 1.0 : double.PositiveInfinity;
            foreach (var (workers, intraOp, copies) in settings.SweepLayouts)
            {
                foreach (var batch in settings.SweepBatches)
                {
                    var estimate = batch * oneRun[intraOp] * (workers * intraOp > cores ? 2 : 1);
                    if (estimate > maxRunSeconds)
                    {
                        continue;
                    }

                    var window = TimeSpan.FromSeconds(Math.Max(settings.SweepWindow.TotalSeconds, 5 * estimate));
                    var warmup = TimeSpan.FromSeconds(Math.Max(settings.SweepWarmup.TotalSeconds, 2 * estimate));
                    var point = RawOrt.Measure(workload, pool.Get(intraOp, copies), intraOp, _inputs, batch, workers, warmup, window, endToEnd: false);
                    _report.Sweep.Add(point);
                }
            }

            var best = _report.Sweep.MaxBy(p => p.ItemsPerSecond)!;
            _report.Limit = best;
            _limit = best.ItemsPerSecond;
            Console.WriteLine(Invariant($"  limit sweep: {_report.Sweep.Count} points; best {best.ItemsPerSecond:N0} items/s at {best.Layout} ({best.RunMsMean:0.###} ms per run)"));
            PrintSweep();
            _report.Rows.Add(SweepRow("limit", best));

            // The same batches with the per-batch work any server does (pack rows into a new tensor, unpack one output per
            // row): the part of the gap to the limit that is binding, not queueing.
            var e2eWindow = TimeSpan.FromSeconds(Math.Max(settings.SweepWindow.TotalSeconds, 5 * best.RunMsMean / 1000));
            var e2e = RawOrt.Measure(workload, pool.Get(best.IntraOp, best.Copies), best.IntraOp, _inputs, best.Batch, best.Workers, settings.SweepWarmup, e2eWindow, endToEnd: true);
            _report.Sweep.Add(e2e);
            _report.Rows.Add(SweepRow("limit-e2e", e2e));

            // The layout the library's batcher uses by default (MaxConcurrency = cores: a worker per core, intra-op 1, a
            // session per worker) at its default MaxBatchSize 32.
            var layout = LibraryLayout;
            var libraryBatch = _heavy ? settings.SweepBatches.Where(b => _report.Sweep.Any(p => p.Batch == b && p.Is(layout))).DefaultIfEmpty(1).Max() : 32;
            var library = _report.Sweep.FirstOrDefault(p => p.Kind == "pure" && p.Batch == libraryBatch && p.Is(layout));
            if (library is not null)
            {
                _report.Rows.Add(SweepRow("limit-lib-layout", library));
                var libraryE2e = RawOrt.Measure(workload, pool.Get(layout.IntraOp, layout.Copies), layout.IntraOp, _inputs, libraryBatch, layout.Workers, settings.SweepWarmup,
                    TimeSpan.FromSeconds(Math.Max(settings.SweepWindow.TotalSeconds, 5 * library.RunMsMean / 1000)), endToEnd: true);
                _report.Sweep.Add(libraryE2e);
                _report.Rows.Add(SweepRow("limit-lib-layout-e2e", libraryE2e));
            }
        }
        finally
        {
            pool.Dispose();
        }
    }

    private double TimeOneRun(InferenceSession session)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(workload.Row(_inputs[0]), workload.Shape(1));
        using var runOptions = new RunOptions();
        var names = new[] { workload.InputName };
        using (session.Run(runOptions, names, [value], workload.OutputNames))
        {
        }

        var started = Stopwatch.GetTimestamp();
        const int Runs = 3;
        for (var i = 0; i < Runs; i++)
        {
            using var results = session.Run(runOptions, names, [value], workload.OutputNames);
        }

        return Stopwatch.GetElapsedTime(started).TotalSeconds / Runs;
    }

    private void PrintSweep()
    {
        var layouts = settings.SweepLayouts;
        Console.WriteLine("    items/s by batch | " + string.Join(" | ", layouts.Select(l => $"{l.Workers}w x i{l.IntraOp} x {l.Copies}s")));
        foreach (var batch in settings.SweepBatches)
        {
            var cells = layouts.Select(l => _report.Sweep.FirstOrDefault(p => p.Kind == "pure" && p.Batch == batch && p.Is(l)))
                .Select(p => p is null ? "-" : Invariant($"{p.ItemsPerSecond:N0} ({p.RunMsMean:0.###} ms)"));
            Console.WriteLine(Invariant($"    {batch,16} | {string.Join(" | ", cells)}"));
        }
    }

    /// <summary>Round 1 of the batched modes: the default, then every candidate on a shorter window; returns the winner.</summary>
    private async Task<ServeConfig> SearchAsync()
    {
        var defaultRow = await MeasureServedAsync(ServeConfig.DefaultBatched, "batched-default");
        await MonitoredAsync();
        var candidates = settings.Candidates(_heavy).ToList();
        if (!_heavy && !settings.Quick)
        {
            // Also the batch size at which the sweep peaks for the layout the batcher runs (2 workers, intra-op 1),
            // when it is not already a candidate (mnist and nnsplit peak below 32).
            var peak = _report.Sweep.Where(p => p.Kind == "pure" && p.Is(LibraryLayout)).MaxBy(p => p.ItemsPerSecond);
            if (peak is not null && peak.Batch > 1 && !candidates.Any(c => c.MaxBatchSize == peak.Batch))
            {
                candidates.Add(ServeConfig.Batched(peak.Batch, 2, 2));
            }
        }

        var searched = new List<(ServeConfig Config, LoadRow Row)>();
        foreach (var config in candidates)
        {
            var (row, _) = await ServeAsync(config, settings.SearchWindow(_heavy), "batched-search");
            _report.Rows.Add(row);
            searched.Add((config, row));
        }

        var (winner, winnerRow) = searched.MaxBy(s => s.Row.ItemsPerSec);
        if (winnerRow.ItemsPerSec <= defaultRow.ItemsPerSec)
        {
            return ServeConfig.DefaultBatched;
        }

        // Picking the best of several noisy short runs favours a lucky one: the winner is measured again on full
        // windows, once per round, and compared with the default on equal terms.
        await MeasureServedAsync(winner, "batched-winner");
        return winner;
    }

    private async Task<LoadRow> MeasureServedAsync(ServeConfig config, string mode)
    {
        var (row, _) = await ServeAsync(config, settings.Window(_heavy), mode);
        return Record(row);
    }

    private async Task AblationsAsync()
    {
        ServeConfig[] ablations =
        [
            ServeConfig.DefaultBatched with { Label = "default, DefaultTimeout = infinite (no per-request deadline timer)", IsDefault = false, NoDeadline = true, MaxConcurrency = 0 },
            ServeConfig.DefaultBatched with { Label = "default, MaxConcurrency 1 (one batch worker, intra-op = cores)", IsDefault = false, MaxConcurrency = 1 },
            ServeConfig.DefaultBatched with { Label = "default, Adaptive = true", IsDefault = false, Adaptive = true },
            ServeConfig.DefaultBatched with { Label = "default, MaxBatchSize 32, MaxDelay 0.1 ms", IsDefault = false, MaxDelayMs = 0.1 },
            ServeConfig.DefaultBatched with { Label = "default, DispatchWhenIdle = false (strict rule)", IsDefault = false, DispatchWhenIdle = false },
            ServeConfig.DefaultBatched with { Label = "default, DispatchWhenIdle = false, DefaultTimeout = infinite", IsDefault = false, DispatchWhenIdle = false, NoDeadline = true },
        ];
        foreach (var config in ablations)
        {
            var (row, _) = await ServeAsync(config, settings.Window(_heavy), "ablation");
            _report.Rows.Add(row);
        }
    }

    private async Task<ServiceProvider> StartAsync(ServeConfig config)
    {
        var services = new ServiceCollection();
        var builder = services.AddModel<TIn, TOut>(ModelName, o =>
        {
            o.Source = ModelSource.FromFile(workload.Path);
            if (!config.IsDefault)
            {
                o.MaxConcurrency = config.MaxConcurrency;
                o.IntraOpThreads = config.IntraOp;
                o.SessionCopies = config.SessionCopies;
                o.AllowThreadOversubscription = config.Oversubscribe;
            }
        });
        if (config.Batching)
        {
            if (config.IsDefault)
            {
                builder.UseBatching();
            }
            else
            {
                builder.UseBatching(b =>
                {
                    b.MaxBatchSize = config.MaxBatchSize;
                    b.MaxDelay = TimeSpan.FromMilliseconds(config.MaxDelayMs);
                    b.Adaptive = config.Adaptive;
                    if (config.DispatchWhenIdle is { } idle)
                    {
                        b.DispatchWhenIdle = idle;
                    }

                    if (config.NoDeadline)
                    {
                        b.DefaultTimeout = Timeout.InfiniteTimeSpan;
                    }
                });
            }
        }

        if (config.CacheEntries > 0)
        {
            builder.UseCaching(c => c.MaxEntries = config.CacheEntries);
        }

        if (config.Monitor)
        {
            builder.UseMonitoring();
        }

        var provider = services.BuildServiceProvider();
        await provider.StartModelsAsync();
        return provider;
    }

    private static BatcherStatistics? StatisticsOf(ServiceProvider provider) =>
        provider.GetRequiredService<ModelRegistry>().Get(ModelName).Features.Batcher?.Statistics;

    private async Task<(LoadRow Row, WindowResult Result)> ServeAsync(ServeConfig config, TimeSpan window, string mode)
    {
        Collect();
        var provider = await StartAsync(config);
        try
        {
            var predictor = provider.GetRequiredKeyedService<IPredictor<TIn, TOut>>(ModelName);
            var statistics = StatisticsOf(provider);
            var probe = new BatcherProbe(statistics?.Listener);
            if (statistics is not null)
            {
                statistics.Listener = probe;
            }

            using var sampler = settings.AllocationProfile ? new AllocationSampler() : null;
            var monitor = config.Monitor ? provider.GetRequiredKeyedService<IModelMonitor>(ModelName) : null;
            var inputs = config.CacheStream as TIn[] ?? _inputs;
            var result = await ClosedLoop.RunAsync(inputs, settings.Callers, x => predictor.PredictAsync(x), null, settings.Warmup(_heavy), window,
                () =>
                {
                    probe.Enabled = true;
                    sampler?.Start();
                },
                () =>
                {
                    probe.Enabled = false;
                    sampler?.Stop();
                },
                () => BatcherHealth.Describe(BatcherOf(provider)), settings.StuckAfter, spreadCallers: config.CacheStream is not null);
            var (faulted, error) = BatcherHealth.FaultedWorkers(BatcherOf(provider));
            var label = config.Label;
            if (monitor is not null)
            {
                var m = monitor.Statistics;
                label += Invariant($"; monitor recorded {m.Recorded:N0}, dropped {m.Dropped:N0} ({(m.Recorded + m.Dropped == 0 ? 0 : m.Dropped / (double)(m.Recorded + m.Dropped)):P1})");
            }

            if (provider.GetRequiredService<ModelRegistry>().Get(ModelName).Features.Cache is { } cache)
            {
                var c = cache.Statistics;
                var lookups = c.Hits + c.Joins + c.Misses + cache.Bypassed;
                label += Invariant($"; cache hits {c.Hits:N0}, joins {c.Joins:N0}, misses {c.Misses:N0}, bypassed {cache.Bypassed:N0} (answered from the cache {(lookups == 0 ? 0 : (c.Hits + c.Joins) / (double)lookups):P1})");
            }

            if (result.StuckCallers > 0)
            {
                _report.Notes.Add($"LOST REQUESTS: {result.StuckCallers} callers never got an answer during {mode} [{config.Label}]: {BatcherHealth.Describe(BatcherOf(provider))}");
            }

            var row = Row(mode, label, result, statistics is null ? null : LoadRow.N(probe.MeanBatch), probe: statistics is null ? null : probe,
                allocations: sampler?.PerRequest(result.Stats.Items), faultedWorkers: faulted);
            Progress(row);
            if (faulted > 0)
            {
                var message = $"BATCHER WORKER DIED: {faulted} worker loop(s) faulted during {mode} [{config.Label}]: {error}";
                Console.WriteLine("  " + message);
                _report.Notes.Add(message);
            }

            if (sampler is not null)
            {
                Console.WriteLine("    allocations by type (B/req): " + sampler.Top(result.Stats.Items, 12));
            }

            return (row, result);
        }
        finally
        {
            await DisposeAsync(provider, mode);
        }
    }

    /// <summary>Stops the model; a failure here (a faulted worker rethrown by the drain) is reported, not fatal.</summary>
    private async Task DisposeAsync(ServiceProvider provider, string mode)
    {
        try
        {
            var dispose = provider.DisposeAsync().AsTask();
            if (await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(30))) != dispose)
            {
                var message = $"stopping the model after {mode} did not finish within 30 s (left running): {BatcherHealth.Describe(BatcherOf(provider))}";
                Console.WriteLine("  " + message);
                _report.Notes.Add(message);
                return;
            }

            await dispose;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var message = $"stopping the model after {mode} threw {ex.GetType().Name}: {ex.Message}";
            Console.WriteLine("  " + message);
            _report.Notes.Add(message);
        }
    }

    private static object? BatcherOf(ServiceProvider provider) => provider.GetRequiredService<ModelRegistry>().Get(ModelName).Features.Batcher;

    private async Task HalfLoadAsync(ServeConfig config, double saturated, string mode)
    {
        Collect();
        var provider = await StartAsync(config);
        var probe = new BatcherProbe(null);
        WindowResult result;
        int faulted;
        var rate = saturated / 2;
        try
        {
            var predictor = provider.GetRequiredKeyedService<IPredictor<TIn, TOut>>(ModelName);
            var statistics = StatisticsOf(provider)!;
            probe = new BatcherProbe(statistics.Listener);
            statistics.Listener = probe;
            result = await OpenLoop.RunAsync(_inputs, rate, x => predictor.PredictAsync(x), settings.Warmup(_heavy), settings.Window(_heavy),
                () => probe.Enabled = true, () => probe.Enabled = false, settings.StuckAfter);
            (faulted, var error) = BatcherHealth.FaultedWorkers(BatcherOf(provider));
            if (faulted > 0)
            {
                var message = $"BATCHER WORKER DIED: {faulted} worker loop(s) faulted during {mode} [{config.Label}]: {error}";
                Console.WriteLine("  " + message);
                _report.Notes.Add(message);
            }
        }
        finally
        {
            await DisposeAsync(provider, mode);
        }

        var maxDelay = config.IsDefault ? 2.0 : config.MaxDelayMs;
        var meanBatch = probe.MeanBatch;
        var (boundBatch, compute) = ComputeTime(meanBatch, config);
        var (_, computeAtMax) = ComputeTime(config.MaxBatchSize, config);
        var bound = maxDelay + (2 * compute);
        var half = new HalfLoadResult
        {
            Config = config.Label,
            MaxDelayMs = maxDelay,
            OfferedPerSec = result.OfferedRate,
            AchievedPerSec = result.Stats.ItemsPerSecond,
            P50Ms = result.Latency.PercentileMs(50),
            P99Ms = result.Latency.PercentileMs(99),
            MeanBatch = meanBatch,
            BoundBatch = boundBatch,
            SweepComputeMs = compute,
            BoundMs = bound,
            BoundAtMaxBatchMs = maxDelay + (2 * computeAtMax),
            ObservedComputeMeanMs = probe.Compute.MeanMs,
            ObservedComputeP99Ms = probe.Compute.PercentileMs(99),
            QueueWaitP99Ms = probe.QueueWait.PercentileMs(99),
        };
        _report.HalfLoad.Add(half);
        var row = Row(mode, Invariant($"{config.Label}; offered {rate:N0}/s (half of {saturated:N0}/s)"), result, LoadRow.N(meanBatch), offered: result.OfferedRate, bound: LoadRow.N(bound), probe: probe, faultedWorkers: faulted);
        _report.Rows.Add(row);
        Progress(row);
        Console.WriteLine(Invariant($"    half load: p99 {half.P99Ms:0.###} ms vs bound {half.BoundMs:0.###} ms (MaxDelay {maxDelay:0.#} + 2 x {compute:0.###} ms at batch {boundBatch}); mean batch {meanBatch:0.0}, batch compute in the batcher mean {half.ObservedComputeMeanMs:0.###} / p99 {half.ObservedComputeP99Ms:0.###} ms, queue wait p99 {half.QueueWaitP99Ms:0.###} ms"));
    }

    /// <summary>One batch's compute time from the sweep, at the layout the configuration runs (workers = MaxConcurrency).</summary>
    private (int Batch, double Ms) ComputeTime(double batch, ServeConfig config)
    {
        var workers = Math.Min(config.EffectiveConcurrency, 2);
        var intraOp = Math.Min(config.EffectiveIntraOp, 2);
        var copies = Math.Max(1, Math.Min(workers, Environment.ProcessorCount / intraOp)); // the library's SessionCopies = 0 rule
        var points = _report.Sweep.Where(p => p.Kind == "pure" && p.Is((workers, intraOp, copies))).OrderBy(p => p.Batch).ToList();
        if (points.Count == 0 || double.IsNaN(batch))
        {
            return (0, double.NaN);
        }

        var point = points.FirstOrDefault(p => p.Batch >= batch - 1e-9) ?? points[^1];
        return (point.Batch, point.RunMsMean);
    }

    private void Verdicts(LoadRow? defaultRow, LoadRow? best)
    {
        if (best is null || double.IsNaN(_limit))
        {
            return;
        }

        var ratio = best.ItemsPerSec / _limit;
        var ratioDefault = defaultRow is null ? double.NaN : defaultRow.ItemsPerSec / _limit;
        if (workload.LimitTarget is { } target)
        {
            _report.Verdicts.Add(ratio >= target
                ? Invariant($"throughput >= {target:0.##}x limit: MET (best {ratio:0.00}x, default {ratioDefault:0.00}x)")
                : Invariant($"throughput >= {target:0.##}x limit: MISSED (best {ratio:0.00}x, default {ratioDefault:0.00}x; {target - ratio:0.00} short, the best config would need {target * _limit:N0}/s, has {best.ItemsPerSec:N0}/s)"));
        }

        if (!double.IsNaN(_naive))
        {
            var headroom = _limit / _naive;
            var vsNaive = best.ItemsPerSec / _naive;
            _report.Verdicts.Add(headroom >= 5
                ? (vsNaive >= 4
                    ? Invariant($">= 4x naive (limit is {headroom:0.0}x naive): MET (best {vsNaive:0.00}x, default {defaultRow!.ItemsPerSec / _naive:0.00}x)")
                    : Invariant($">= 4x naive (limit is {headroom:0.0}x naive): MISSED (best {vsNaive:0.00}x, default {defaultRow!.ItemsPerSec / _naive:0.00}x)"))
                : Invariant($">= 4x naive: not applicable (limit is only {headroom:0.0}x naive); best is {vsNaive:0.00}x naive"));
        }

        foreach (var half in _report.HalfLoad)
        {
            _report.Verdicts.Add(Invariant($"p99 at half load <= MaxDelay + 2 x batch compute [{half.Config}]: {(half.Met ? "MET" : "MISSED")} (p99 {half.P99Ms:0.###} ms, bound {half.BoundMs:0.###} ms at batch {half.BoundBatch}; bound at MaxBatchSize {half.BoundAtMaxBatchMs:0.###} ms)"));
        }
    }

    private LoadRow Row(string mode, string config, WindowResult result, double? meanBatch = null, double? offered = null, double? bound = null, BatcherProbe? probe = null, IReadOnlyDictionary<string, double>? allocations = null, int? faultedWorkers = null)
    {
        var s = result.Stats;
        return new LoadRow
        {
            Model = workload.Key,
            Mode = mode,
            Config = config,
            ItemsPerSec = s.ItemsPerSecond,
            P50Ms = LoadRow.N(result.Latency.PercentileMs(50)),
            P95Ms = LoadRow.N(result.Latency.PercentileMs(95)),
            P99Ms = LoadRow.N(result.Latency.PercentileMs(99)),
            BytesPerRequest = LoadRow.N(s.BytesPerItem),
            WindowStartS = s.StartSeconds,
            WindowEndS = s.StartSeconds + s.Seconds,
            MeanBatch = meanBatch,
            CpuUsPerItem = LoadRow.N(s.CpuMicrosPerItem),
            PoolWorkItemsPerRequest = LoadRow.N(s.PoolItemsPerItem),
            LockContentionsPer1000 = LoadRow.N(s.ContentionsPerThousandItems),
            Gen0 = s.Gen0,
            Gen2 = s.Gen2,
            PoolThreads = result.PoolThreads,
            OtherProcessCores = LoadRow.N(s.OtherProcessCores),
            CpuSpeed = LoadRow.N(_speed),
            Errors = result.Errors,
            OfferedPerSec = offered,
            BoundMs = bound,
            QueueWaitP99Ms = probe is null ? null : LoadRow.N(probe.QueueWait.PercentileMs(99)),
            BatchComputeMeanMs = probe is null ? null : LoadRow.N(probe.Compute.MeanMs),
            AllocationsByType = allocations,
            FaultedWorkers = faultedWorkers,
            LostRequests = result.StuckCallers,
        };
    }

    private LoadRow SweepRow(string mode, SweepPoint point) => new()
    {
        Model = workload.Key,
        Mode = mode,
        Config = $"{point.Layout}, {point.Kind}; latency columns are per batch run",
        ItemsPerSec = point.ItemsPerSecond,
        P50Ms = LoadRow.N(point.RunMsP50),
        P99Ms = LoadRow.N(point.RunMsP99),
        MeanBatch = point.Batch,
        CpuUsPerItem = LoadRow.N(point.CpuMicrosPerItem),
        OtherProcessCores = LoadRow.N(point.OtherProcessCores),
        CpuSpeed = LoadRow.N(_speed),
    };

    private static LoadRow Clone(LoadRow row, string mode) => new()
    {
        Model = row.Model,
        Mode = mode,
        Config = row.Config,
        ItemsPerSec = row.ItemsPerSec,
        P50Ms = row.P50Ms,
        P95Ms = row.P95Ms,
        P99Ms = row.P99Ms,
        BytesPerRequest = row.BytesPerRequest,
        MeanBatch = row.MeanBatch,
        CpuUsPerItem = row.CpuUsPerItem,
        PoolWorkItemsPerRequest = row.PoolWorkItemsPerRequest,
        LockContentionsPer1000 = row.LockContentionsPer1000,
        Gen0 = row.Gen0,
        Gen2 = row.Gen2,
        PoolThreads = row.PoolThreads,
        OtherProcessCores = row.OtherProcessCores,
        CpuSpeed = row.CpuSpeed,
        Errors = row.Errors,
        QueueWaitP99Ms = row.QueueWaitP99Ms,
        BatchComputeMeanMs = row.BatchComputeMeanMs,
        AllocationsByType = row.AllocationsByType,
        WindowStartS = row.WindowStartS,
        WindowEndS = row.WindowEndS,
        Round = row.Round,
        FaultedWorkers = row.FaultedWorkers,
        LostRequests = row.LostRequests,
        Rounds = row.Rounds,
        RoundSpread = row.RoundSpread,
    };

    private static void Progress(LoadRow row) =>
        Console.WriteLine(Invariant($"  {row.Mode,-22} [t {row.WindowStartS:0.000}-{row.WindowEndS:0.000}] {row.ItemsPerSec,12:N0} items/s  p50 {row.P50Ms ?? double.NaN,8:0.###} ms  p99 {row.P99Ms ?? double.NaN,8:0.###} ms  {row.BytesPerRequest ?? double.NaN,8:N0} B/req  batch {row.MeanBatch ?? double.NaN,5:0.0}  cpu {row.CpuUsPerItem ?? double.NaN,7:0.00} us/item  pool {row.PoolWorkItemsPerRequest ?? double.NaN,5:0.00}/req  qwait99 {row.QueueWaitP99Ms ?? double.NaN,6:0.###} ms  batch run {row.BatchComputeMeanMs ?? double.NaN,6:0.###} ms  others {row.OtherProcessCores ?? double.NaN,4:0.00} cores  speed {row.CpuSpeed ?? double.NaN,4:0.00}  [{row.Config}]"));

    private double _speed = double.NaN;

    /// <summary>Before each measurement: a clean heap, and the current single-core speed.</summary>
    private void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        _speed = CpuSpeed.Probe();
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Listens to the batcher (internal hook, benchmarks only): batch sizes, compute time per batch, queue wait.</summary>
internal sealed class BatcherProbe(IBatcherListener? next) : IBatcherListener
{
    private long _batches;
    private long _items;

    public volatile bool Enabled;

    public LatencyHistogram Compute { get; } = new();

    public LatencyHistogram QueueWait { get; } = new();

    public double MeanBatch => _batches == 0 ? double.NaN : _items / (double)_batches;

    public void BatchCompleted(int size, TimeSpan compute)
    {
        next?.BatchCompleted(size, compute);
        if (Enabled)
        {
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _items, size);
            Compute.RecordConcurrent((long)(compute.TotalSeconds * Stopwatch.Frequency));
        }
    }

    public void QueueWaited(TimeSpan wait)
    {
        next?.QueueWaited(wait);
        if (Enabled)
        {
            QueueWait.RecordConcurrent((long)(wait.TotalSeconds * Stopwatch.Frequency));
        }
    }

    public void RequestCompleted(RequestOutcome outcome) => next?.RequestCompleted(outcome);

    public void QueueDepthChanged(int depth) => next?.QueueDepthChanged(depth);
}

/// <summary>Raw ONNX Runtime sessions by intra-op threads, created on demand: <c>Get(i, n)</c> returns n distinct copies.</summary>
internal sealed class SessionPool(string path) : IDisposable
{
    private readonly Dictionary<int, List<InferenceSession>> _sessions = [];

    public InferenceSession[] Get(int intraOp, int copies)
    {
        if (!_sessions.TryGetValue(intraOp, out var list))
        {
            _sessions[intraOp] = list = [];
        }

        while (list.Count < copies)
        {
            list.Add(RawOrt.CreateSession(path, intraOp));
        }

        return list.Take(copies).ToArray();
    }

    public void Dispose()
    {
        foreach (var session in _sessions.Values.SelectMany(l => l))
        {
            session.Dispose();
        }
    }
}
