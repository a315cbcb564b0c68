namespace ModelInService;

/// <summary>One loaded generation of a model.</summary>
/// <param name="Version">A number unique to this load in the process (also the cache-key seed and the metrics' live version).</param>
/// <param name="Source">Where it was loaded from (the resolved file path, or the source's description).</param>
/// <param name="Sha256">The first 16 hex digits of the model bytes' SHA-256.</param>
/// <param name="LoadedAt">When it was loaded (UTC).</param>
/// <param name="ModelVersion">The version number recorded inside the ONNX file (0 when absent).</param>
public sealed record ModelVersionInfo(long Version, string Source, string Sha256, DateTimeOffset LoadedAt, long ModelVersion)
{
    /// <summary>Gets the name given to this version (<see cref="ModelOptions.VersionName"/> for the first load, or <see cref="IModelManager.ReloadAsync(ModelSource, string, CancellationToken)"/>), or null.</summary>
    public string? Name { get; init; }
}

/// <summary>Data of <see cref="IModelManager.VersionChanged"/>.</summary>
/// <param name="modelName">The model.</param>
/// <param name="previous">The generation that stopped receiving new requests (it drains, or is kept for rollback), or null when none served before (a model whose first load failed, with <see cref="ModelOptions.ContinueOnLoadError"/>, loaded later).</param>
/// <param name="current">The generation now serving.</param>
public sealed class ModelVersionChangedEventArgs(string modelName, ModelVersionInfo? previous, ModelVersionInfo current) : EventArgs
{
    /// <summary>Gets the model.</summary>
    public string ModelName { get; } = modelName;

    /// <summary>Gets the generation that stopped receiving new requests, or null when none served before (the model's first load failed and it loaded later, after its file changed).</summary>
    public ModelVersionInfo? Previous { get; } = previous;

    /// <summary>Gets the generation now serving.</summary>
    public ModelVersionInfo Current { get; } = current;
}

/// <summary>Data of <see cref="IModelManager.ReloadFailed"/>.</summary>
/// <param name="modelName">The model.</param>
/// <param name="serving">The generation that keeps serving.</param>
/// <param name="error">Why the new version could not be loaded.</param>
public sealed class ModelReloadFailedEventArgs(string modelName, ModelVersionInfo serving, ModelLoadException error) : EventArgs
{
    /// <summary>Gets the model.</summary>
    public string ModelName { get; } = modelName;

    /// <summary>Gets the generation that keeps serving.</summary>
    public ModelVersionInfo Serving { get; } = serving;

    /// <summary>Gets why the new version could not be loaded.</summary>
    public ModelLoadException Error { get; } = error;
}

/// <summary>
/// Operates a registered model's versions: which one is live, reload (same or new source) without dropping requests,
/// and instant rollback. Resolve it keyed by model name.
/// </summary>
/// <remarks>Thread-safe; reloads and rollbacks are serialized.</remarks>
public interface IModelManager
{
    /// <summary>Gets the model name.</summary>
    string ModelName { get; }

    /// <summary>Gets the generation serving requests.</summary>
    /// <exception cref="ModelLoadException">The model failed to load.</exception>
    /// <exception cref="ModelNotReadyException">The model is not loaded yet.</exception>
    ModelVersionInfo Current { get; }

    /// <summary>
    /// Gets the signature of the generation serving requests, with <see cref="ModelSignature.Batching"/>: whether it
    /// batches and why not, the batch axis of every tensor and how rows are bucketed.
    /// </summary>
    /// <exception cref="ModelLoadException">The model failed to load.</exception>
    /// <exception cref="ModelNotReadyException">The model is not loaded yet.</exception>
    ModelSignature Signature { get; }

    /// <summary>Gets the generation a rollback would restore, or null.</summary>
    ModelVersionInfo? Previous { get; }

    /// <summary>
    /// Loads and warms a new version while the current one serves, then swaps atomically. Requests already running
    /// finish on the old version; nothing fails. Without <paramref name="source"/>, the current source is read again.
    /// </summary>
    /// <param name="source">A new source, or null to reload the current one.</param>
    /// <param name="cancellationToken">Cancels waiting for another reload.</param>
    /// <returns>The version now serving.</returns>
    /// <exception cref="ModelLoadException">The new version could not be loaded (the old one keeps serving).</exception>
    /// <exception cref="InvalidOperationException">The model is pinned (<see cref="Pin"/>).</exception>
    Task<ModelVersionInfo> ReloadAsync(ModelSource? source = null, CancellationToken cancellationToken = default);

    /// <summary>Like <see cref="ReloadAsync(ModelSource?, CancellationToken)"/>, giving the new version a name (e.g. "2026-11-28-retrain") shown in <see cref="History"/>, logs and events.</summary>
    /// <param name="source">The new source.</param>
    /// <param name="versionName">The version's name.</param>
    /// <param name="cancellationToken">Cancels waiting for another reload.</param>
    /// <returns>The version now serving.</returns>
    /// <exception cref="ArgumentException"><paramref name="versionName"/> is empty.</exception>
    /// <exception cref="ModelLoadException">The new version could not be loaded (the old one keeps serving).</exception>
    /// <exception cref="InvalidOperationException">The model is pinned (<see cref="Pin"/>).</exception>
    Task<ModelVersionInfo> ReloadAsync(ModelSource source, string versionName, CancellationToken cancellationToken = default);

    /// <summary>Gets the versions that have served, oldest first (the last 32), including the current one.</summary>
    IReadOnlyList<ModelVersionInfo> History { get; }

    /// <summary>Gets whether the serving version is pinned (<see cref="Pin"/>).</summary>
    bool IsPinned { get; }

    /// <summary>
    /// Pins the serving version: until <see cref="Unpin"/>, nothing replaces it. File-change reloads are skipped (and
    /// logged); <see cref="ReloadAsync(ModelSource?, CancellationToken)"/>, <see cref="RollbackAsync"/> and
    /// <see cref="PromoteCandidateAsync"/> throw. Canary and shadow candidates may still run beside it.
    /// </summary>
    void Pin();

    /// <summary>Removes the pin set by <see cref="Pin"/>.</summary>
    void Unpin();

    /// <summary>Swaps back to the version replaced by the last reload (instant: it is still loaded).</summary>
    /// <param name="cancellationToken">Cancels waiting for another reload.</param>
    /// <returns>The version now serving.</returns>
    /// <exception cref="InvalidOperationException">There is no previous version, or the model is pinned.</exception>
    Task<ModelVersionInfo> RollbackAsync(CancellationToken cancellationToken = default);

    /// <summary>Gets the candidate under canary or shadow, with its counters, or null.</summary>
    CandidateReport? Candidate { get; }

    /// <summary>
    /// Loads a candidate version beside the serving one and sends it <paramref name="share"/> of the requests (sticky by
    /// <see cref="PredictionOptions.RoutingKey"/>). Canary requests run directly on the candidate (not cached, not batched).
    /// </summary>
    /// <param name="source">The candidate model.</param>
    /// <param name="share">The share of requests, 0 to 1.</param>
    /// <param name="cancellationToken">Cancels waiting for another reload.</param>
    /// <returns>The candidate version.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="share"/> is outside 0..1.</exception>
    /// <exception cref="ModelLoadException">The candidate could not be loaded.</exception>
    Task<ModelVersionInfo> StartCanaryAsync(ModelSource source, double share, CancellationToken cancellationToken = default);

    /// <summary>
    /// Loads a candidate version that runs on a copy of the traffic in the background, never affecting answers; its
    /// agreement with the serving version is counted (<see cref="Candidate"/>). A copy is skipped when the candidate is busy.
    /// </summary>
    /// <param name="source">The candidate model.</param>
    /// <param name="cancellationToken">Cancels waiting for another reload.</param>
    /// <returns>The candidate version.</returns>
    /// <exception cref="ModelLoadException">The candidate could not be loaded.</exception>
    Task<ModelVersionInfo> StartShadowAsync(ModelSource source, CancellationToken cancellationToken = default);

    /// <summary>Makes the candidate the serving version (the replaced one is kept for rollback).</summary>
    /// <param name="cancellationToken">Cancels waiting for another reload.</param>
    /// <returns>The version now serving.</returns>
    /// <exception cref="InvalidOperationException">There is no candidate, or the model is pinned.</exception>
    Task<ModelVersionInfo> PromoteCandidateAsync(CancellationToken cancellationToken = default);

    /// <summary>Ends the canary or shadow and unloads the candidate.</summary>
    /// <param name="cancellationToken">Cancels waiting for another reload.</param>
    /// <returns>A task that completes when the candidate no longer receives traffic.</returns>
    Task StopCandidateAsync(CancellationToken cancellationToken = default);

    /// <summary>Raised after the serving version changed.</summary>
    event EventHandler<ModelVersionChangedEventArgs>? VersionChanged;

    /// <summary>Raised when a reload failed; the serving version did not change.</summary>
    event EventHandler<ModelReloadFailedEventArgs>? ReloadFailed;
}
