namespace ModelInService.Hosting;

/// <summary>The <see cref="IModelManager"/> of one model: a thin face over its <see cref="ModelHost"/>.</summary>
internal sealed class ModelManager(ModelHost host) : IModelManager
{
    public string ModelName => host.Name;

    public ModelVersionInfo Current => host.Runtime.Info;

    public ModelSignature Signature => host.Runtime.Signature;

    public ModelVersionInfo? Previous => host.Previous?.Info;

    public event EventHandler<ModelVersionChangedEventArgs>? VersionChanged
    {
        add => host.VersionChanged += value;
        remove => host.VersionChanged -= value;
    }

    public event EventHandler<ModelReloadFailedEventArgs>? ReloadFailed
    {
        add => host.ReloadFailed += value;
        remove => host.ReloadFailed -= value;
    }

    public async Task<ModelVersionInfo> ReloadAsync(ModelSource? source = null, CancellationToken cancellationToken = default)
    {
        var info = (await host.ReloadAsync(source, cancellationToken).ConfigureAwait(false)).Info;
        host.RaiseOperation(ModelOperationKind.Reload);
        return info;
    }

    public async Task<ModelVersionInfo> ReloadAsync(ModelSource source, string versionName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrWhiteSpace(versionName);
        var info = (await host.ReloadAsync(source, cancellationToken, versionName).ConfigureAwait(false)).Info;
        host.RaiseOperation(ModelOperationKind.Reload);
        return info;
    }

    public IReadOnlyList<ModelVersionInfo> History => host.History;

    public bool IsPinned => host.IsPinned;

    public void Pin()
    {
        host.Pin();
        host.RaiseOperation(ModelOperationKind.Pin);
    }

    public void Unpin()
    {
        if (host.IsPinned)
        {
            host.Unpin();
            host.RaiseOperation(ModelOperationKind.Unpin);
        }
    }

    public CandidateReport? Candidate => host.Candidates.Current?.Report();

    public async Task<ModelVersionInfo> StartCanaryAsync(ModelSource source, double share, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (share is < 0 or > 1 || double.IsNaN(share))
        {
            throw new ArgumentOutOfRangeException(nameof(share), share, "The canary share must be between 0 and 1.");
        }

        var info = (await host.Candidates.StartAsync(source, CandidateMode.Canary, share, cancellationToken).ConfigureAwait(false)).Info;
        host.RaiseOperation(ModelOperationKind.StartCanary);
        return info;
    }

    public async Task<ModelVersionInfo> StartShadowAsync(ModelSource source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var info = (await host.Candidates.StartAsync(source, CandidateMode.Shadow, 1, cancellationToken).ConfigureAwait(false)).Info;
        host.RaiseOperation(ModelOperationKind.StartShadow);
        return info;
    }

    public async Task<ModelVersionInfo> PromoteCandidateAsync(CancellationToken cancellationToken = default)
    {
        var info = (await host.Candidates.PromoteAsync(host.Name, cancellationToken).ConfigureAwait(false)).Info;
        host.RaiseOperation(ModelOperationKind.PromoteCandidate);
        return info;
    }

    public async Task StopCandidateAsync(CancellationToken cancellationToken = default)
    {
        await host.Candidates.StopAsync(cancellationToken).ConfigureAwait(false);
        host.RaiseOperation(ModelOperationKind.StopCandidate);
    }

    public async Task<ModelVersionInfo> RollbackAsync(CancellationToken cancellationToken = default)
    {
        var info = (await host.RollbackAsync(cancellationToken).ConfigureAwait(false)).Info;
        host.RaiseOperation(ModelOperationKind.Rollback);
        return info;
    }
}
