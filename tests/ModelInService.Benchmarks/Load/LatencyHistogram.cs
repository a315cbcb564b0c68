using System.Diagnostics;
using System.Numerics;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// A fixed-size log-linear latency histogram (HdrHistogram's layout): exact below 128 ns, then 64 sub-buckets per
/// power of two, so a recorded value is off by at most 1/64 (1.6%). Recording never allocates. One writer at a time
/// unless <see cref="RecordConcurrent"/> is used.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBuckets = 64;
    private const int Linear = 128;
    private static readonly double NanosPerTick = 1e9 / Stopwatch.Frequency;

    private readonly long[] _counts = new long[(SubBuckets * 58) + Linear];
    private long _count;
    private long _sumNs;
    private long _maxNs;

    public long Count => _count;

    public double MeanMs => _count == 0 ? double.NaN : _sumNs / (double)_count / 1e6;

    public double MaxMs => _maxNs / 1e6;

    public static long ToNanos(long stopwatchTicks) => (long)(stopwatchTicks * NanosPerTick);

    /// <summary>Records a duration given in <see cref="Stopwatch"/> ticks.</summary>
    public void RecordTicks(long ticks) => RecordNanos(ToNanos(ticks));

    public void RecordNanos(long ns)
    {
        ns = Math.Max(0, ns);
        _counts[Index(ns)]++;
        _count++;
        _sumNs += ns;
        if (ns > _maxNs)
        {
            _maxNs = ns;
        }
    }

    /// <summary>Thread-safe recording (open-loop load and batcher events: values arrive on any thread).</summary>
    public void RecordConcurrent(long ticks)
    {
        var ns = Math.Max(0, ToNanos(ticks));
        Interlocked.Increment(ref _counts[Index(ns)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumNs, ns);
        var max = Volatile.Read(ref _maxNs);
        while (ns > max)
        {
            var seen = Interlocked.CompareExchange(ref _maxNs, ns, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        _count += other._count;
        _sumNs += other._sumNs;
        _maxNs = Math.Max(_maxNs, other._maxNs);
    }

    /// <summary>The value (ms) below which <paramref name="percentile"/> % of the recorded values fall (bucket midpoint).</summary>
    public double PercentileMs(double percentile)
    {
        if (_count == 0)
        {
            return double.NaN;
        }

        var rank = (long)Math.Ceiling(percentile / 100.0 * _count);
        rank = Math.Clamp(rank, 1, _count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Midpoint(i) / 1e6;
            }
        }

        return _maxNs / 1e6;
    }

    private static int Index(long ns)
    {
        if (ns < Linear)
        {
            return (int)ns;
        }

        var exponent = 63 - BitOperations.LeadingZeroCount((ulong)ns);
        var shift = exponent - 6;
        var top = (int)(ns >> shift); // 64..127
        return (shift * SubBuckets) + top;
    }

    private static double Midpoint(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        var shift = (index / SubBuckets) - 1;
        var top = (long)((index % SubBuckets) + SubBuckets);
        return ((top << shift) + ((top + 1) << shift)) / 2.0;
    }
}
