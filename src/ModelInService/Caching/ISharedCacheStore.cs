namespace ModelInService.Caching;

/// <summary>
/// The second-level (shared) prediction cache behind a model's local store, shared by every replica: implemented by
/// ModelInService.Redis (<c>UseRedisCache</c>) and registered as a keyed service under the model name. The local store
/// keeps single-flight within the replica; only the owner of a local miss looks here, once, before computing.
/// </summary>
internal interface ISharedCacheStore
{
    /// <summary>
    /// Looks <paramref name="key"/> up within the store's short lookup timeout: the stored bytes, or null on a miss, a
    /// timeout or an unreachable store (each counted by the store). Throws only <see cref="OperationCanceledException"/>
    /// when <paramref name="cancellationToken"/> is canceled. Bytes returned are counted by the caller's verdict:
    /// <see cref="ReportHit"/> or <see cref="ReportCorrupt"/>.
    /// </summary>
    ValueTask<byte[]?> GetAsync(SharedCacheKey key, CancellationToken cancellationToken);

    /// <summary>Queues a write off the request path; when the queue is full the write is dropped (and counted). Never throws.</summary>
    void Enqueue(SharedCacheWrite write);

    /// <summary>Reports bytes under <paramref name="key"/> that deserialized: a hit.</summary>
    void ReportHit(SharedCacheKey key);

    /// <summary>Reports bytes under <paramref name="key"/> that did not deserialize (counted; the value was treated as a miss).</summary>
    void ReportCorrupt(SharedCacheKey key);
}

/// <summary>
/// Where a prediction lives in the shared cache. Versions never mix: <paramref name="ModelHash"/> is the model file's
/// content hash (the same on every replica that loaded the same bytes, unlike the process-local load number that seeds
/// the local key), <paramref name="Layout"/> fingerprints the output type's bound members, and <paramref name="Input"/>
/// is the binder's input hash seeded with the content hash.
/// </summary>
/// <param name="Model">The model name.</param>
/// <param name="ModelHash">The first 16 hex digits of the model file's SHA-256 (<see cref="ModelVersionInfo.Sha256"/>).</param>
/// <param name="Layout">The output layout fingerprint (<see cref="OutputSerializer{TOutput}.Layout"/>).</param>
/// <param name="Input">The 128-bit XxHash of the input's content seeded with the content hash.</param>
internal readonly record struct SharedCacheKey(string Model, string ModelHash, ulong Layout, UInt128 Input);

/// <summary>A queued write: serialized by the store's writer, off the request path.</summary>
internal abstract class SharedCacheWrite(SharedCacheKey key)
{
    /// <summary>Gets where the value goes.</summary>
    public SharedCacheKey Key { get; } = key;

    /// <summary>The compact bytes of the value (<see cref="OutputSerializer{TOutput}"/>).</summary>
    public abstract byte[] Serialize();
}

/// <summary>A queued write of one output.</summary>
internal sealed class SharedCacheWrite<TOutput>(OutputSerializer<TOutput> serializer, SharedCacheKey key, TOutput value) : SharedCacheWrite(key)
{
    public override byte[] Serialize() => serializer.Serialize(value, Key.Input);
}
