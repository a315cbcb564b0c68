namespace ModelInService.Redis;

/// <summary>
/// The cluster view of model operations: the desired state stored in Redis and every live replica's heartbeat.
/// Registered by <see cref="ModelOperationsServiceCollectionExtensions.AddModelClusterOperations"/>, next to each model's <see cref="IModelManager"/>.
/// </summary>
public interface IModelCluster
{
    /// <summary>Gets this replica's id.</summary>
    string ReplicaId { get; }

    /// <summary>Reads the stored desired state of <paramref name="modelName"/> and the heartbeats of the replicas that serve it.</summary>
    /// <param name="modelName">The model.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The cluster state.</returns>
    /// <exception cref="StackExchange.Redis.RedisException">Redis is unreachable.</exception>
    Task<ModelClusterState> GetStateAsync(string modelName, CancellationToken cancellationToken = default);
}

/// <summary>What the cluster should serve for one model and what each replica serves.</summary>
public sealed class ModelClusterState
{
    /// <summary>Gets the model.</summary>
    public required string ModelName { get; init; }

    /// <summary>Gets the stored desired state (the last revision published), or null when no operation was issued yet.</summary>
    public ModelDesiredState? Desired { get; init; }

    /// <summary>Gets the replicas whose heartbeat has not expired, by id.</summary>
    public required IReadOnlyList<ModelReplicaState> Replicas { get; init; }
}

/// <summary>The state every replica converges to: the result of the last operation published for the model.</summary>
public sealed class ModelDesiredState
{
    /// <summary>Gets the revision (increases with every published operation; the highest wins).</summary>
    public long Revision { get; init; }

    /// <summary>Gets the replica that issued the operation.</summary>
    public required string Origin { get; init; }

    /// <summary>Gets the operation, e.g. <c>PromoteCandidate</c>.</summary>
    public required string Operation { get; init; }

    /// <summary>Gets when the operation was issued (the origin's clock).</summary>
    public DateTimeOffset IssuedAt { get; init; }

    /// <summary>Gets the first 16 hex digits of the SHA-256 of the version to serve (the identity replicas compare).</summary>
    public required string ServingSha256 { get; init; }

    /// <summary>Gets the file the version to serve is loaded from (every replica must read it at this path), or null when it came from bytes, a stream or a resource.</summary>
    public string? ServingFile { get; init; }

    /// <summary>Gets the version's name, or null.</summary>
    public string? ServingName { get; init; }

    /// <summary>Gets whether the serving version is pinned.</summary>
    public bool Pinned { get; init; }

    /// <summary>Gets the SHA-256 prefix of the canary or shadow candidate, or null when there is none.</summary>
    public string? CandidateSha256 { get; init; }

    /// <summary>Gets the candidate's file, or null.</summary>
    public string? CandidateFile { get; init; }

    /// <summary>Gets the candidate's mode, or null.</summary>
    public CandidateMode? CandidateMode { get; init; }

    /// <summary>Gets the candidate's share of requests (canary), 1 for a shadow.</summary>
    public double CandidateShare { get; init; }
}

/// <summary>One replica's heartbeat: what it serves, as of <see cref="At"/>.</summary>
public sealed class ModelReplicaState
{
    /// <summary>Gets the replica's id.</summary>
    public required string ReplicaId { get; init; }

    /// <summary>Gets the serving version's number in that process (<see cref="ModelVersionInfo.Version"/>).</summary>
    public long Version { get; init; }

    /// <summary>Gets the serving version's SHA-256 prefix.</summary>
    public required string Sha256 { get; init; }

    /// <summary>Gets where the serving version was loaded from.</summary>
    public required string Source { get; init; }

    /// <summary>Gets the serving version's name, or null.</summary>
    public string? VersionName { get; init; }

    /// <summary>Gets whether the replica's model is pinned.</summary>
    public bool Pinned { get; init; }

    /// <summary>Gets the SHA-256 prefix of the replica's candidate, or null.</summary>
    public string? CandidateSha256 { get; init; }

    /// <summary>Gets the highest desired-state revision the replica has applied (or published).</summary>
    public long AppliedRevision { get; init; }

    /// <summary>Gets why the replica could not apply the last revision (it keeps serving its version), or null.</summary>
    public string? Error { get; init; }

    /// <summary>Gets when the heartbeat was written (the replica's clock).</summary>
    public DateTimeOffset At { get; init; }
}
