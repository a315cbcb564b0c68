namespace ModelInService.Hosting;

/// <summary>An operation issued through <see cref="IModelManager"/> that changed (or re-stated) what a model serves.</summary>
internal enum ModelOperationKind
{
    /// <summary><see cref="IModelManager.ReloadAsync(ModelSource?, CancellationToken)"/> (either overload).</summary>
    Reload,

    /// <summary><see cref="IModelManager.RollbackAsync"/>.</summary>
    Rollback,

    /// <summary><see cref="IModelManager.Pin"/>.</summary>
    Pin,

    /// <summary><see cref="IModelManager.Unpin"/> of a pinned model.</summary>
    Unpin,

    /// <summary><see cref="IModelManager.StartCanaryAsync"/>.</summary>
    StartCanary,

    /// <summary><see cref="IModelManager.StartShadowAsync"/>.</summary>
    StartShadow,

    /// <summary><see cref="IModelManager.PromoteCandidateAsync"/>.</summary>
    PromoteCandidate,

    /// <summary><see cref="IModelManager.StopCandidateAsync"/>.</summary>
    StopCandidate,

    /// <summary>Nothing changed: the current state is stated again (e.g. to restore a desired state the store lost).</summary>
    Restate,
}

/// <summary>
/// Raised by <see cref="ModelHost.OperationApplied"/> after an <see cref="IModelManager"/> operation succeeded: the
/// operation and the model's whole resulting state (serving, previous, pin, candidate), with the files they were loaded
/// from, so that another process can reproduce it. File-change reloads (the watcher) are not raised: each process
/// watches its own file.
/// </summary>
internal sealed class ModelOperationEventArgs(
    string modelName,
    ModelOperationKind kind,
    long sequence,
    bool remote,
    ModelVersionInfo serving,
    string? servingFile,
    ModelVersionInfo? previous,
    bool pinned,
    ModelVersionInfo? candidate,
    string? candidateFile,
    CandidateMode? candidateMode,
    double candidateShare) : EventArgs
{
    public string ModelName { get; } = modelName;

    public ModelOperationKind Kind { get; } = kind;

    /// <summary>Increases with every raised operation of the model in this process (the order states were observed in).</summary>
    public long Sequence { get; } = sequence;

    /// <summary>True when the operation was applied inside <see cref="ModelOperationScope.Remote"/>: replaying another process's operation, not to be sent on.</summary>
    public bool Remote { get; } = remote;

    public ModelVersionInfo Serving { get; } = serving;

    /// <summary>The resolved file the serving version was loaded from, or null (bytes, stream, resource).</summary>
    public string? ServingFile { get; } = servingFile;

    public ModelVersionInfo? Previous { get; } = previous;

    public bool Pinned { get; } = pinned;

    public ModelVersionInfo? Candidate { get; } = candidate;

    public string? CandidateFile { get; } = candidateFile;

    public CandidateMode? CandidateMode { get; } = candidateMode;

    public double CandidateShare { get; } = candidateShare;
}

/// <summary>
/// Marks the operations issued on the current async flow as replays of another process's operation: their
/// <see cref="ModelOperationEventArgs.Remote"/> is true, so whoever forwards operations does not send them back.
/// </summary>
internal static class ModelOperationScope
{
    private static readonly AsyncLocal<bool> s_remote = new();

    public static bool IsRemote => s_remote.Value;

    /// <summary>Marks the current flow until the returned scope is disposed.</summary>
    public static Scope Remote()
    {
        var prior = s_remote.Value;
        s_remote.Value = true;
        return new Scope(prior);
    }

    /// <summary>Restores the flow's previous mark.</summary>
    internal readonly struct Scope(bool prior) : IDisposable
    {
        public void Dispose() => s_remote.Value = prior;
    }
}
