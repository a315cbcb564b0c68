using System.Globalization;

namespace ModelInService.Redis.Caching;

/// <summary>Counters of a model's L2 (Redis) cache; what the meter exports, readable in tests and benchmarks.</summary>
internal sealed class RedisCacheStatistics
{
    private long _hits;
    private long _misses;
    private long _timeouts;
    private long _unavailable;
    private long _errors;
    private long _corrupt;
    private long _written;
    private long _dropped;
    private long _tooLarge;
    private long _unavailableWrites;
    private long _failedWrites;
    private long _outages;

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public long Timeouts => Interlocked.Read(ref _timeouts);

    /// <summary>Lookups answered as misses at once because Redis was not connected.</summary>
    public long Unavailable => Interlocked.Read(ref _unavailable);

    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Values that did not deserialize (treated as misses).</summary>
    public long Corrupt => Interlocked.Read(ref _corrupt);

    public long Written => Interlocked.Read(ref _written);

    /// <summary>Writes dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public long TooLarge => Interlocked.Read(ref _tooLarge);

    public long UnavailableWrites => Interlocked.Read(ref _unavailableWrites);

    public long FailedWrites => Interlocked.Read(ref _failedWrites);

    public long Outages => Interlocked.Read(ref _outages);

    public long Lookups => Hits + Misses + Timeouts + Unavailable + Errors;

    public long CountHit() => Interlocked.Increment(ref _hits);

    public long CountMiss() => Interlocked.Increment(ref _misses);

    public long CountTimeout() => Interlocked.Increment(ref _timeouts);

    public long CountUnavailable() => Interlocked.Increment(ref _unavailable);

    public long CountError() => Interlocked.Increment(ref _errors);

    public long CountCorrupt() => Interlocked.Increment(ref _corrupt);

    public long CountWritten() => Interlocked.Increment(ref _written);

    public long CountDropped() => Interlocked.Increment(ref _dropped);

    public long CountTooLarge() => Interlocked.Increment(ref _tooLarge);

    public long CountUnavailableWrite() => Interlocked.Increment(ref _unavailableWrites);

    public long CountFailedWrite() => Interlocked.Increment(ref _failedWrites);

    public long CountOutage() => Interlocked.Increment(ref _outages);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Hits} hits, {Misses} misses, {Timeouts} timeouts, {Unavailable} unavailable, {Errors} errors, {Corrupt} corrupt; {Written} written, {Dropped} dropped");
}
