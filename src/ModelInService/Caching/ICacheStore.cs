namespace ModelInService.Caching;

/// <summary>
/// Where a prediction cache keeps its completed entries, and its in-flight ones (single-flight): the built-in exact
/// LRU (<see cref="LruCache{TValue}"/>, the default) or the app's <c>IMemoryCache</c> (<see cref="MemoryCacheStore{TValue}"/>).
/// Every store takes the same keys (the binder's 128-bit hash seeded with the model version) and gives the same
/// answers: a hit, an in-flight computation to join, or a new in-flight entry the caller owns and must complete or fail.
/// </summary>
/// <typeparam name="TValue">The cached output type.</typeparam>
internal interface ICacheStore<TValue> : ICacheCounters
{
    /// <summary>Finds <paramref name="key"/> at time <paramref name="now"/> (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    /// <param name="key">The key.</param>
    /// <param name="now">The time.</param>
    /// <param name="count">Whether the lookup counts as a hit, join or miss: false when a request looks again after the computation it joined was abandoned (each request is counted once).</param>
    /// <returns>A hit, an in-flight computation to join, or a new in-flight entry the caller owns.</returns>
    LruCache<TValue>.Lookup Find(UInt128 key, long now, bool count = true);

    /// <summary>Completes an owned entry: stores it (unless <paramref name="store"/> is false or it cannot fit) and wakes joiners.</summary>
    void Complete(LruCache<TValue>.Node node, TValue value, long size, long expiresAt, bool store);

    /// <summary>Abandons an owned entry: joiners get <paramref name="error"/> and nothing is stored.</summary>
    void Fail(LruCache<TValue>.Node node, Exception error);
}
