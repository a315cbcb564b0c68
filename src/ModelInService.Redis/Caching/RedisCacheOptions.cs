namespace ModelInService.Redis;

/// <summary>
/// Options of a model's L2 prediction cache in Redis (named options; the name is the model name), validated at
/// start-up. The L2 sits behind the model's local cache: a local miss looks it up once, with <see cref="LookupTimeout"/>,
/// and a computed answer is written to it in the background.
/// </summary>
/// <remarks>
/// Redis side: give the server a memory budget and an eviction policy that only touches keys with a TTL (every L2 entry
/// has one), e.g. <c>maxmemory 512mb</c> and <c>maxmemory-policy volatile-lru</c> (or <c>allkeys-lru</c> on a server
/// used only as a cache). Budget about <see cref="MaxEntryBytes"/> plus the key (~100 bytes) plus ~60 bytes of Redis
/// overhead per distinct input you want to keep.
/// </remarks>
public sealed class RedisCacheOptions
{
    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string (e.g. <c>redis:6379</c>). When null, the
    /// <c>IConnectionMultiplexer</c> registered in the service collection is used.
    /// </summary>
    /// <value>Default <see langword="null"/>.</value>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets the prefix of every key; the rest is model name, model content hash, output layout and input hash.</summary>
    /// <value>Default <c>mis:cache:</c>.</value>
    public string KeyPrefix { get; set; } = "mis:cache:";

    /// <summary>
    /// Gets or sets how long a request waits for the Redis lookup; after it the lookup counts as a miss and the model
    /// computes. The only Redis call a request waits for.
    /// </summary>
    /// <value>Default 10 ms.</value>
    public TimeSpan LookupTimeout { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Gets or sets how long an entry lives in Redis.</summary>
    /// <value>Default 1 hour.</value>
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Gets or sets the largest serialized entry written to Redis; larger outputs stay local only (counted).</summary>
    /// <value>Default 64 KiB.</value>
    public int MaxEntryBytes { get; set; } = 64 * 1024;

    /// <summary>Gets or sets how many writes may wait for the background writer; when full, new writes are dropped (counted).</summary>
    /// <value>Default 4,096.</value>
    public int WriteQueueCapacity { get; set; } = 4096;
}
