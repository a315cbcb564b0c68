using System.Diagnostics;
using System.Globalization;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// Process-wide counters read at the start and the end of a measurement window: managed allocations, CPU time,
/// thread-pool work items, lock contention, GCs, and the whole machine's busy time (/proc/stat) so that load from
/// other processes (another engineer's tests) shows up next to each figure.
/// </summary>
internal readonly record struct ProcessCounters(
    long Timestamp,
    long AllocatedBytes,
    TimeSpan ProcessCpu,
    long PoolWorkItems,
    long LockContentions,
    int Gen0,
    int Gen1,
    int Gen2,
    double MachineBusySeconds)
{
    public static ProcessCounters Take() => new(
        Stopwatch.GetTimestamp(),
        GC.GetTotalAllocatedBytes(precise: false),
        Environment.CpuUsage.TotalTime,
        ThreadPool.CompletedWorkItemCount,
        Monitor.LockContentionCount,
        GC.CollectionCount(0),
        GC.CollectionCount(1),
        GC.CollectionCount(2),
        ReadMachineBusySeconds());

    /// <summary>Busy CPU seconds of the whole machine since boot (user+nice+system+irq+softirq+steal), NaN off Linux.</summary>
    private static double ReadMachineBusySeconds()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var line = reader.ReadLine();
            if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal))
            {
                return double.NaN;
            }

            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long busy = 0;
            foreach (var index in new[] { 1, 2, 3, 6, 7, 8 })
            {
                busy += long.Parse(parts[index], CultureInfo.InvariantCulture);
            }

            return busy / 100.0; // USER_HZ is 100 on Linux
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return double.NaN;
        }
    }
}

/// <summary>The difference of two <see cref="ProcessCounters"/> over a window in which <see cref="Items"/> items completed.</summary>
internal readonly record struct WindowStats(double StartSeconds, double Seconds, long Items, long AllocatedBytes, double CpuSeconds, long PoolWorkItems, long LockContentions, int Gen0, int Gen1, int Gen2, double OtherProcessCores)
{
    public static WindowStats Between(ProcessCounters start, ProcessCounters end, long items)
    {
        var seconds = (end.Timestamp - start.Timestamp) / (double)Stopwatch.Frequency;
        var cpu = (end.ProcessCpu - start.ProcessCpu).TotalSeconds;
        var machine = end.MachineBusySeconds - start.MachineBusySeconds;
        var other = double.IsNaN(machine) || seconds <= 0 ? double.NaN : Math.Max(0, (machine - cpu) / seconds);
        // Stopwatch on Linux is CLOCK_MONOTONIC: StartSeconds lines up with `perf record -k CLOCK_MONOTONIC` timestamps.
        return new WindowStats(start.Timestamp / (double)Stopwatch.Frequency, seconds, items, end.AllocatedBytes - start.AllocatedBytes, cpu, end.PoolWorkItems - start.PoolWorkItems,
            end.LockContentions - start.LockContentions, end.Gen0 - start.Gen0, end.Gen1 - start.Gen1, end.Gen2 - start.Gen2, other);
    }

    public double ItemsPerSecond => Seconds > 0 ? Items / Seconds : 0;

    public double BytesPerItem => Items > 0 ? AllocatedBytes / (double)Items : double.NaN;

    public double CpuMicrosPerItem => Items > 0 ? CpuSeconds * 1e6 / Items : double.NaN;

    public double PoolItemsPerItem => Items > 0 ? PoolWorkItems / (double)Items : double.NaN;

    public double ContentionsPerThousandItems => Items > 0 ? LockContentions * 1000.0 / Items : double.NaN;

    /// <summary>Cores this process kept busy on average.</summary>
    public double ProcessCores => Seconds > 0 ? CpuSeconds / Seconds : double.NaN;
}

/// <summary>
/// How fast one core runs a fixed integer loop right now, relative to the first probe of the run (1.00 = as fast;
/// 0.5 = half speed). Taken while the harness is idle, before a window: it shows slow periods of the virtual
/// machine (other tenants, other processes) that per-process CPU accounting cannot see.
/// </summary>
internal static class CpuSpeed
{
    private static double _reference = double.NaN;

    public static double Probe()
    {
        var best = double.MaxValue;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var started = Stopwatch.GetTimestamp();
            var x = 0x9E3779B97F4A7C15UL + (ulong)attempt;
            for (var i = 0; i < 400_000; i++)
            {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
            }

            var elapsed = Stopwatch.GetTimestamp() - started;
            GC.KeepAlive(x);
            best = Math.Min(best, elapsed);
        }

        if (double.IsNaN(_reference))
        {
            _reference = best;
        }

        return _reference / best;
    }
}
