using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using ModelInService.Sessions;
using ModelInService.Telemetry;

namespace ModelInService.Caching;

/// <summary>
/// The prediction cache in front of the batcher (or the direct run): key = XxHash128 of the input's content seeded
/// with the model version, exact LRU within entry and byte budgets, optional TTL, single-flight for identical
/// concurrent requests, and a deep copy for every caller so a cached output cannot be mutated through an answer.
/// </summary>
/// <remarks>
/// <para>The caching stage: in the chain only when <c>UseCaching</c> was called, below validation (it never hides a
/// validation error) and routing, above the batcher or the session run.</para>
/// <para>Entries live in an <see cref="ICacheStore{TValue}"/>: the exact LRU (default) or the app's <c>IMemoryCache</c>
/// (<c>UseMemoryCache</c>). Behind either, an optional <see cref="ISharedCacheStore"/> (the L2, e.g. Redis): the owner of
/// a local miss looks there once before computing (a hit is kept locally), and a computed output is queued for it.</para>
/// </remarks>
[DebuggerDisplay("{Statistics.Count} entries, {Statistics.Bytes} bytes")]
internal sealed class PredictionCache<TInput, TOutput> : DelegatingStage<TInput, TOutput>, IPredictionCache
{
    private readonly ICacheStore<TOutput> _lru;
    private readonly ISharedCacheStore? _shared;
    private readonly CachingOptions _options;
    private readonly TimeProvider _time;
    private readonly long _ttlTicks;

    /// <summary>The model's generations, to know whether a swap happened while the owner computed (null in unit tests: not checked).</summary>
    private readonly IGenerationSource? _source;

    /// <summary>The deadline of a call without its own (the batcher's <c>DefaultTimeout</c>), or null (none).</summary>
    private readonly TimeSpan? _defaultTimeout;

    /// <summary>The shared-cache identity of the runtime seen last (rebuilt when a reload swaps it).</summary>
    private volatile SharedIdentity? _identity;

    public PredictionCache(PredictionStage<TInput, TOutput> next, CachingOptions options, TimeProvider time)
        : this(next, options, time, new LruCache<TOutput>(options.MaxEntries, options.MaxBytes), null)
    {
    }

    public PredictionCache(PredictionStage<TInput, TOutput> next, CachingOptions options, TimeProvider time, ICacheStore<TOutput> store, ISharedCacheStore? shared, IGenerationSource? source = null, TimeSpan? defaultTimeout = null)
        : base(next)
    {
        _source = source;
        _defaultTimeout = defaultTimeout == Timeout.InfiniteTimeSpan ? null : defaultTimeout;
        _options = options;
        _time = time;
        _lru = store;
        _shared = OutputSerializer<TOutput>.IsSupported ? shared : null;
        _ttlTicks = options.TimeToLive is { } ttl ? (long)(ttl.TotalSeconds * time.TimestampFrequency) : long.MaxValue;
    }

    /// <summary>
    /// The cache of model <paramref name="name"/> as its options and the services say: the app's <see cref="IMemoryCache"/>
    /// when <c>UseMemoryCache</c> was called, else the exact LRU; and the shared store registered for the model, if any.
    /// </summary>
    /// <param name="next">The stage below (the batcher or the session run).</param>
    /// <param name="options">The model's caching options.</param>
    /// <param name="source">The model's generations (the swap check).</param>
    /// <param name="defaultTimeout">The deadline of a call without its own (the batcher's), or null.</param>
    /// <param name="services">The app's services.</param>
    /// <param name="name">The model.</param>
    /// <returns>The cache stage.</returns>
    public static PredictionCache<TInput, TOutput> Create(PredictionStage<TInput, TOutput> next, CachingOptions options, IGenerationSource source, TimeSpan? defaultTimeout, IServiceProvider services, string name)
    {
        ICacheStore<TOutput> store = options.UsesMemoryCache
            ? new MemoryCacheStore<TOutput>(services.GetRequiredService<IMemoryCache>(), options.MemoryCacheEntrySize, options.TimeToLive)
            : new LruCache<TOutput>(options.MaxEntries, options.MaxBytes);
        return new PredictionCache<TInput, TOutput>(next, options, source.Time, store, services.GetKeyedService<ISharedCacheStore>(name), source, defaultTimeout);
    }

    public ICacheCounters Statistics => _lru;

    /// <summary>Gets the shared (L2) store behind the local one, or null.</summary>
    public ISharedCacheStore? Shared => _shared;

    /// <summary>Lookups per measurement window of the bypass decision.</summary>
    private const int Window = 1024;

    /// <summary>While bypassing, one request in this many (on average: a random draw) still goes through the cache.</summary>
    private const int BypassSampling = 16;

    /// <summary>Lookups and hits in the current window (interlocked; approximate under races, which is fine for a rate).</summary>
    private int _windowLookups;
    private int _windowHits;
    private readonly StripedCounter _bypassed = new();

    /// <summary>Whether the last window's hit rate was below <see cref="CachingOptions.BypassBelowHitRate"/>.</summary>
    private volatile bool _bypassing;

    /// <summary>Requests that skipped the cache because its hit rate was too low to pay.</summary>
    public long Bypassed => _bypassed.Value;

    public bool IsBypassing => _bypassing;

    public bool Accepts(TInput input)
    {
        if (_options.CacheInput is { } filter && !filter(input!))
        {
            return false;
        }

        // While stepping aside nothing here writes memory another core writes too: the sample is a thread-local random
        // draw and the count striped per core (shared counters cost a cache-line transfer per request at 1M/s).
        if (_bypassing && Random.Shared.Next(BypassSampling) != 0)
        {
            _bypassed.Increment();
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
            return GetOrComputeAsync(serving, input, options, count: true, cancellationToken);
        }
#pragma warning disable CA1031 // A throwing getter of the caller's type (hashed for the key) fails this call only.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<TOutput>(ex);
        }
    }

    /// <summary>
    /// Answers from the cache, joins an identical in-flight request, or computes (and stores) the answer.
    /// <paramref name="count"/> is false when a joiner looks again after the computation it joined was abandoned.
    /// </summary>
    private ValueTask<TOutput> GetOrComputeAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, bool count, CancellationToken cancellationToken)
    {
        var key = serving.Binder.ComputeKey(input, serving.Runtime.Version);
        var now = _time.GetTimestamp();
        var lookup = _lru.Find(key, now, count);
        if (count)
        {
            CountLookup(lookup.Kind != LruCache<TOutput>.LookupKind.Owner);
            ModelTracing.Current?.SetTag(ModelTracing.CacheTag, lookup.Kind switch
            {
                LruCache<TOutput>.LookupKind.Hit => "hit",
                LruCache<TOutput>.LookupKind.Join => "join",
                _ => "miss",
            });
        }

        return lookup.Kind switch
        {
            LruCache<TOutput>.LookupKind.Hit => new ValueTask<TOutput>(serving.Binder.Copier.Clone(lookup.Value!)),
            LruCache<TOutput>.LookupKind.Join => JoinAsync(lookup.Shared!, serving, input, options, now, cancellationToken),
            _ => OwnAsync(lookup.Owned!, serving, input, options, cancellationToken),
        };
    }

    private async ValueTask<TOutput> OwnAsync(LruCache<TOutput>.Node node, Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        TOutput output;
        SharedIdentity? identity = null;
        var sharedKey = default(SharedCacheKey);

        // The key names the snapshot's generation, but a run follows reloads (a queued request runs on whichever
        // generation serves when its batch starts): the answer is stored only when no swap happened from before the
        // snapshot's generation was seen serving until the answer came back, so it was computed by that generation.
        // A reload then a rollback (the same generation, the same key, serving again) stored the other model's answers
        // under it before.
        var swaps = _source?.Swaps ?? 0;
        var sameGeneration = _source is null || ((swaps & 1) == 0 && _source.IsServing(serving.Runtime));
        try
        {
            if (_shared is not null && (identity = IdentityOf(serving)) is not null)
            {
                sharedKey = new SharedCacheKey(serving.Runtime.Name, identity.Hash, identity.Serializer.Layout, serving.Binder.ComputeKey(input, identity.Seed));
                if (await _shared.GetAsync(sharedKey, cancellationToken).ConfigureAwait(false) is { } payload)
                {
                    if (identity.Serializer.TryDeserialize(payload, sharedKey.Input, out var remote))
                    {
                        // An L2 hit: kept in the local store as if computed here (not written back).
                        _shared.ReportHit(sharedKey);
                        var expiresAt = _ttlTicks == long.MaxValue ? long.MaxValue : _time.GetTimestamp() + _ttlTicks;
                        _lru.Complete(node, remote!, serving.Binder.Copier.EstimateSize(remote!) + 64, expiresAt, true);
                        return serving.Binder.Copier.Clone(remote!);
                    }

                    _shared.ReportCorrupt(sharedKey); // a miss, never an answer
                }
            }

            output = await Next.PredictAsync(serving, input, options, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            // The owner gave up: joiners must not inherit its cancellation; they compute again themselves.
            _lru.Fail(node, new OwnerGaveUpException(ex));
            throw;
        }
        catch (ModelDeadlineExceededException ex)
        {
            // The owner's deadline is its caller's, like a cancellation: joiners keep their own and compute again.
            _lru.Fail(node, new OwnerGaveUpException(ex));
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
        if (_source is not null && !(sameGeneration && _source.Swaps == swaps))
        {
            // Computed across a swap, perhaps by another generation than the key names: neither stored nor given to
            // the joiners, who look again. A joiner may have come after a reload and a rollback, its key's generation
            // serving again and no swap during its own call, and took the other model's answer before.
            _lru.Fail(node, new OwnerGaveUpException(null));
            return copier.Clone(output);
        }

        var store = _options.CacheOutput is not { } filter || filter(output!);
        var expires = _ttlTicks == long.MaxValue ? long.MaxValue : _time.GetTimestamp() + _ttlTicks;
        _lru.Complete(node, output, store ? copier.EstimateSize(output) + 64 : 0, expires, store);
        if (store && identity is not null)
        {
            // The stored instance is never handed out, so the writer may serialize it later, off the request path.
            _shared!.Enqueue(new SharedCacheWrite<TOutput>(identity.Serializer, sharedKey, output));
        }

        return copier.Clone(output);
    }

    /// <summary>The serving runtime's shared-cache identity, or null when its content hash is unknown (no L2 for it).</summary>
    private SharedIdentity? IdentityOf(Serving<TInput, TOutput> serving)
    {
        var runtime = serving.Runtime;
        var identity = _identity;
        if (identity is null || !ReferenceEquals(identity.Runtime, runtime))
        {
            var hash = runtime.Info.Sha256;
            var seed = ulong.TryParse(hash, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var parsed) && hash.Length == 16
                ? (long)parsed
                : (long?)null;
            _identity = identity = new SharedIdentity(runtime, hash, seed ?? 0, seed is not null, new OutputSerializer<TOutput>(serving.Binder.Copier));
        }

        return identity.Usable ? identity : null;
    }

    /// <summary>
    /// What the shared cache knows a runtime by: its content hash (the same bytes on every replica give the same hash,
    /// unlike <see cref="ModelRuntime.Version"/>, a per-process load counter), the key seed parsed from it, and the
    /// output serializer of its binder.
    /// </summary>
    private sealed record SharedIdentity(ModelRuntime Runtime, string Hash, long Seed, bool Usable, OutputSerializer<TOutput> Serializer);

    /// <summary>
    /// Waits for the owner's answer, within this call's own deadline (its <see cref="PredictionOptions.Timeout"/>, or
    /// the batcher's default) counted from <paramref name="started"/>; when the owner's caller canceled or its deadline
    /// passed, looks again (computing itself or joining another) with the time it has left.
    /// </summary>
    private async ValueTask<TOutput> JoinAsync(Task<TOutput> shared, Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, long started, CancellationToken cancellationToken)
    {
        TOutput output;
        var deadline = options?.Timeout is { } requested && requested >= TimeSpan.Zero && (_defaultTimeout is not { } fallback || requested < fallback)
            ? requested
            : _defaultTimeout;
        try
        {
            // A timer only for a deadline of the call's own: without one, the call's deadline is the batcher's default,
            // which the owner (same default, started earlier; a call may shorten it, never lengthen it) reaches
            // first, and its deadline sends the joiners to look again. A timer per join cost half the cache's
            // throughput at 50% repeats (paired load run, cache50).
            if (options?.Timeout is null || deadline is not { } timeout)
            {
                output = await shared.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var left = timeout - _time.GetElapsedTime(started);
                output = left > TimeSpan.Zero
                    ? await shared.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false)
                    : throw new TimeoutException();
            }
        }
        catch (OwnerGaveUpException)
        {
            if (deadline is not { } timeout)
            {
                return await GetOrComputeAsync(serving, input, options, count: false, cancellationToken).ConfigureAwait(false);
            }

            var left = timeout - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                throw DeadlineExceeded(serving.Runtime.Name, timeout);
            }

            var remaining = new PredictionOptions { Timeout = left, Priority = options?.Priority ?? PredictionPriority.Normal, RoutingKey = options?.RoutingKey };
            return await GetOrComputeAsync(serving, input, remaining, count: false, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!shared.IsFaulted)
        {
            throw DeadlineExceeded(serving.Runtime.Name, deadline!.Value);
        }

        return serving.Binder.Copier.Clone(output);
    }

    private static ModelDeadlineExceededException DeadlineExceeded(string model, TimeSpan timeout) =>
        new(model, string.Create(CultureInfo.InvariantCulture, $"Request to model '{model}' exceeded its {timeout.TotalMilliseconds:0} ms deadline (waiting for an identical request's answer)."), timeout);

    /// <summary>
    /// Tells joiners that the computation they waited for was abandoned by its owner's caller (canceled, or its
    /// deadline passed; no inner exception: it ran across a swap): not their failure, so they look again.
    /// </summary>
    private sealed class OwnerGaveUpException(Exception? inner) : Exception(inner is null ? "The request computing this input ran across a model swap." : "The request computing this input was canceled or ran out of time.", inner);
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
