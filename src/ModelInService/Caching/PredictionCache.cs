using System.Diagnostics;
using ModelInService.Sessions;

namespace ModelInService.Caching;

/// <summary>
/// The prediction cache in front of the batcher (or the direct run): key = XxHash128 of the input's content seeded
/// with the model version, exact LRU within entry and byte budgets, optional TTL, single-flight for identical
/// concurrent requests, and a deep copy for every caller so a cached output cannot be mutated through an answer.
/// </summary>
/// <remarks>
/// The caching stage: in the chain only when <c>UseCaching</c> was called, below validation (it never hides a
/// validation error) and routing, above the batcher or the session run.
/// </remarks>
[DebuggerDisplay("{Statistics.Count} entries, {Statistics.Bytes} bytes")]
internal sealed class PredictionCache<TInput, TOutput> : DelegatingStage<TInput, TOutput>, IPredictionCache
{
    private readonly LruCache<TOutput> _lru;
    private readonly CachingOptions _options;
    private readonly TimeProvider _time;
    private readonly long _ttlTicks;

    public PredictionCache(PredictionStage<TInput, TOutput> next, CachingOptions options, TimeProvider time)
        : base(next)
    {
        _options = options;
        _time = time;
        _lru = new LruCache<TOutput>(options.MaxEntries, options.MaxBytes);
        _ttlTicks = options.TimeToLive is { } ttl ? (long)(ttl.TotalSeconds * time.TimestampFrequency) : long.MaxValue;
    }

    public ICacheCounters Statistics => _lru;

    /// <summary>Lookups per measurement window of the bypass decision.</summary>
    private const int Window = 1024;

    /// <summary>While bypassing, one request in this many still goes through the cache.</summary>
    private const int BypassSampling = 16;

    /// <summary>Lookups and hits in the current window (interlocked; approximate under races, which is fine for a rate).</summary>
    private int _windowLookups;
    private int _windowHits;
    private int _sampler;
    private long _bypassed;

    /// <summary>Whether the last window's hit rate was below <see cref="CachingOptions.BypassBelowHitRate"/>.</summary>
    private volatile bool _bypassing;

    /// <summary>Requests that skipped the cache because its hit rate was too low to pay.</summary>
    public long Bypassed => Interlocked.Read(ref _bypassed);

    public bool IsBypassing => _bypassing;

    public bool Accepts(TInput input)
    {
        if (_options.CacheInput is { } filter && !filter(input!))
        {
            return false;
        }

        if (_bypassing && Interlocked.Increment(ref _sampler) % BypassSampling != 0)
        {
            Interlocked.Increment(ref _bypassed);
            return false;
        }

        return true;
    }

    private void CountLookup(bool hit)
    {
        if (hit)
        {
            Interlocked.Increment(ref _windowHits);
        }

        if (Interlocked.Increment(ref _windowLookups) >= Window)
        {
            var hits = Interlocked.Exchange(ref _windowHits, 0);
            var lookups = Interlocked.Exchange(ref _windowLookups, 0);
            _bypassing = _options.BypassBelowHitRate > 0 && hits < _options.BypassBelowHitRate * Math.Max(lookups, 1);
        }
    }

    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        if (!Accepts(input))
        {
            return Next.PredictAsync(serving, input, options, cancellationToken);
        }

        try
        {
            return GetOrComputeAsync(serving, input, options, cancellationToken);
        }
#pragma warning disable CA1031 // A throwing getter of the caller's type (hashed for the key) fails this call only.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<TOutput>(ex);
        }
    }

    /// <summary>Answers from the cache, joins an identical in-flight request, or computes (and stores) the answer.</summary>
    private ValueTask<TOutput> GetOrComputeAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        var key = serving.Binder.ComputeKey(input, serving.Runtime.Version);
        var now = _time.GetTimestamp();
        var lookup = _lru.Find(key, now);
        CountLookup(lookup.Kind != LruCache<TOutput>.LookupKind.Owner);
        return lookup.Kind switch
        {
            LruCache<TOutput>.LookupKind.Hit => new ValueTask<TOutput>(serving.Binder.Copier.Clone(lookup.Value!)),
            LruCache<TOutput>.LookupKind.Join => JoinAsync(lookup.Shared!, serving, input, options, cancellationToken),
            _ => OwnAsync(lookup.Owned!, serving, input, options, cancellationToken),
        };
    }

    private async ValueTask<TOutput> OwnAsync(LruCache<TOutput>.Node node, Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        TOutput output;
        try
        {
            output = await Next.PredictAsync(serving, input, options, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            // The owner gave up: joiners must not inherit its cancellation; they compute again themselves.
            _lru.Fail(node, new OwnerCanceledException(ex));
            throw;
        }
        catch (Exception ex)
        {
            _lru.Fail(node, ex); // failures are shared with joiners but never cached
            throw;
        }

        // The stored instance is never handed out: every caller, the owner included, gets its own copy (the same
        // instance when the output type is immutable: the copier decides once per type).
        var copier = serving.Binder.Copier;
        var store = _options.CacheOutput is not { } filter || filter(output!);
        var expires = _ttlTicks == long.MaxValue ? long.MaxValue : _time.GetTimestamp() + _ttlTicks;
        _lru.Complete(node, output, store ? copier.EstimateSize(output) + 64 : 0, expires, store);
        return copier.Clone(output);
    }

    private async ValueTask<TOutput> JoinAsync(Task<TOutput> shared, Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        TOutput output;
        try
        {
            output = await shared.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OwnerCanceledException)
        {
            return await GetOrComputeAsync(serving, input, options, cancellationToken).ConfigureAwait(false);
        }

        return serving.Binder.Copier.Clone(output);
    }

    /// <summary>Tells joiners that the computation they waited for was abandoned by its owner's cancellation.</summary>
    private sealed class OwnerCanceledException(Exception inner) : Exception("The request computing this input was canceled.", inner);
}

/// <summary>The type-erased face of a <see cref="PredictionCache{TInput, TOutput}"/>.</summary>
internal interface IPredictionCache
{
    ICacheCounters Statistics { get; }

    /// <summary>Requests that skipped the cache because its recent hit rate was too low to pay.</summary>
    long Bypassed { get; }

    /// <summary>Whether the cache is currently stepping aside (low hit rate).</summary>
    bool IsBypassing { get; }
}

/// <summary>Hits, misses, evictions, entries and bytes of a prediction cache (what the metrics layer exports).</summary>
internal interface ICacheCounters
{
    long Hits { get; }

    long Misses { get; }

    long Evictions { get; }

    /// <summary>Requests that shared an identical in-flight computation (single-flight).</summary>
    long Joins { get; }

    int Count { get; }

    long Bytes { get; }
}
