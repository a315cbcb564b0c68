namespace ModelInService;

/// <summary>
/// Options of a model's prediction cache (named options; the name is the model name). Validated at start-up.
/// </summary>
/// <remarks>Configure before the host starts.</remarks>
public sealed class CachingOptions
{
    /// <summary>Gets or sets the most cached predictions; the least recently used are evicted first.</summary>
    /// <value>Default 10,000.</value>
    public int MaxEntries { get; set; } = 10_000;

    /// <summary>Gets or sets the most bytes the cached outputs may take (estimated from their arrays, strings and maps).</summary>
    /// <value>Default 64 MiB.</value>
    public long MaxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Gets or sets how long an entry stays valid after it was stored; null keeps entries until evicted.</summary>
    /// <value>Default <see langword="null"/>.</value>
    public TimeSpan? TimeToLive { get; set; }

    /// <summary>
    /// Gets or sets the hit rate below which the cache steps aside: when fewer than this share of the last 1,024
    /// lookups were hits, only 1 request in 16 goes through the cache (to notice when repeats come back) and the
    /// others go straight to the model, so a cache on unique inputs costs almost nothing (Triton #4379). 0 disables.
    /// </summary>
    /// <value>Default 0.02 (2%).</value>
    public double BypassBelowHitRate { get; set; } = 0.02;

    /// <summary>
    /// Gets or sets a filter on inputs (called with the <c>TInput</c>): return false to bypass the cache for that
    /// request (e.g. inputs that are known to be unique).
    /// </summary>
    public Func<object, bool>? CacheInput { get; set; }

    /// <summary>
    /// Gets or sets a filter on outputs (called with the <c>TOutput</c>): return false to answer without storing it
    /// (e.g. low-confidence predictions). Failures are never cached.
    /// </summary>
    public Func<object, bool>? CacheOutput { get; set; }

    /// <summary>Gets or sets whether entries live in the app's <c>IMemoryCache</c> (<c>UseMemoryCache</c>) instead of the built-in LRU.</summary>
    internal bool UsesMemoryCache { get; set; }

    /// <summary>Gets or sets the map from an entry's estimated bytes to the app's <c>SizeLimit</c> unit (null: bytes).</summary>
    internal Func<long, long>? MemoryCacheEntrySize { get; set; }
}
