namespace ModelInService.Hosting;

/// <summary>The <see cref="IModelManager"/> of one model: a thin face over its <see cref="ModelHost"/>.</summary>
internal sealed class ModelManager(ModelHost host) : IModelManager
{
    public string ModelName => host.Name;

    public ModelVersionInfo Current => host.Runtime.Info;

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

    public async Task<ModelVersionInfo> ReloadAsync(ModelSource? source = null, CancellationToken cancellationToken = default) =>
        (await host.ReloadAsync(source, cancellationToken).ConfigureAwait(false)).Info;

    public async Task<ModelVersionInfo> RollbackAsync(CancellationToken cancellationToken = default) =>
        (await host.RollbackAsync(cancellationToken).ConfigureAwait(false)).Info;
}
