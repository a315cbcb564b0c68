using ModelInService.Sessions;

namespace ModelInService.Routing;

/// <summary>What the candidate slot needs from the model's lifecycle (implemented by the model's host).</summary>
internal interface ICandidateHost
{
    /// <summary>Runs <paramref name="action"/> under the lock that serializes reload, rollback and candidate changes.</summary>
    Task<T> UnderReloadLockAsync<T>(Func<Task<T>> action, CancellationToken cancellationToken);

    /// <summary>Loads <paramref name="source"/> with the model's options beside the serving generation (nothing is swapped).</summary>
    ModelRuntime LoadBeside(ModelSource source);

    /// <summary>Makes <paramref name="runtime"/> the serving generation (fails while pinned); call under the reload lock.</summary>
    void Promote(ModelRuntime runtime);
}

/// <summary>The candidate under canary or shadow, if any: started, promoted and stopped by <see cref="IModelManager"/>, read by the routing stage.</summary>
internal sealed class CandidateSlot(ICandidateHost host) : IDisposable
{
    private volatile CandidateState? _current;

    public CandidateState? Current => _current;

    /// <summary>Loads <paramref name="source"/> as a candidate beside the serving version (the serving version is untouched).</summary>
    public Task<ModelRuntime> StartAsync(ModelSource source, CandidateMode mode, double share, CancellationToken cancellationToken) =>
        host.UnderReloadLockAsync(async () =>
        {
            var loaded = await Task.Run(() => host.LoadBeside(source), cancellationToken).ConfigureAwait(false);
            Retire(Interlocked.Exchange(ref _current, new CandidateState(loaded, mode, share))?.Runtime);
            return loaded;
        }, cancellationToken);

    /// <summary>Makes the candidate the serving version (like a reload, without loading again).</summary>
    public Task<ModelRuntime> PromoteAsync(string modelName, CancellationToken cancellationToken) =>
        host.UnderReloadLockAsync(() =>
        {
            var candidate = _current ?? throw new InvalidOperationException($"Model '{modelName}' has no candidate to promote.");
            host.Promote(candidate.Runtime);
            _current = null;
            return Task.FromResult(candidate.Runtime);
        }, cancellationToken);

    /// <summary>Ends the canary or shadow; the candidate is drained and unloaded.</summary>
    public Task StopAsync(CancellationToken cancellationToken) =>
        host.UnderReloadLockAsync(() =>
        {
            Retire(Interlocked.Exchange(ref _current, null)?.Runtime);
            return Task.FromResult(true);
        }, cancellationToken);

    public void Dispose() => Interlocked.Exchange(ref _current, null)?.Runtime.Dispose();

    private static void Retire(ModelRuntime? runtime)
    {
        if (runtime is not null)
        {
            _ = Task.Run(() => runtime.Dispose(TimeSpan.FromSeconds(30)));
        }
    }
}
