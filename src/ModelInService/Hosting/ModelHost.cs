using System.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelInService.Batching;
using ModelInService.Caching;
using ModelInService.Routing;
using ModelInService.Sessions;
using ModelInService.Telemetry;

namespace ModelInService.Hosting;

/// <summary>The life of one registered model: not loaded, loaded (a <see cref="ModelRuntime"/>), failed, or stopped.</summary>
[DebuggerDisplay("{Name}: {State}")]
internal sealed class ModelHost : IGenerationSource, ICandidateHost, IObservedModel, IDisposable
{
    /// <summary>The loaded model; null until loaded and after disposal.</summary>
    private volatile ModelRuntime? _runtime;

    /// <summary>The load error, served to every caller when loading failed.</summary>
    private volatile Exception? _error;

    private volatile bool _stopped;

    /// <summary>Whether the "uses batching but cannot batch" warning was logged (once per model).</summary>
    private bool _warnedNotBatchable;

    /// <summary>The generation replaced by the last reload, kept loaded for an instant rollback.</summary>
    private volatile ModelRuntime? _previous;

    /// <summary>One reload or rollback at a time.</summary>
    private readonly SemaphoreSlim _reloadLock = new(1, 1);

    /// <summary>Where relative paths resolve and where logs go, captured at the first load for later reloads.</summary>
    private string? _contentRoot;
    private ILogger? _logger;

    /// <summary>
    /// Guards what a swap checks and changes against <see cref="Pin"/> and <see cref="Dispose"/>: a reload that was
    /// loading when the version was pinned, or when the host stopped, must not swap in afterwards.
    /// </summary>
    private readonly Lock _swapLock = new();

    /// <summary>The last reload's failure while the version before it kept serving; cleared by the next swap.</summary>
    private volatile ReloadFailure? _lastReloadFailure;

    public ModelHost(ModelRegistration registration, ModelOptions options, BatchingOptions? batching, TimeProvider time)
    {
        Registration = registration;
        Options = options;
        BatchingOptions = batching;
        Time = time;
        Candidates = new CandidateSlot(this);
    }

    /// <summary>The batcher and cache the model's chain was built with (for metrics and health; no stage reads them here).</summary>
    public ModelFeatures Features { get; } = new();

    /// <summary>The candidate under canary or shadow, if any.</summary>
    public CandidateSlot Candidates { get; }

    /// <summary>The batching options when <c>UseBatching</c> was called: checked at load (RequireBatching).</summary>
    public BatchingOptions? BatchingOptions { get; }

    public TimeProvider Time { get; }

    public ModelRegistration Registration { get; }

    public string Name => Registration.Name;

    public ModelOptions Options { get; }

    public string State => _runtime is not null ? "ready" : _error is not null ? "failed" : _stopped ? "stopped" : "not loaded";

    /// <summary>Gets the loaded model or throws what prevents serving.</summary>
    public ModelRuntime Current => Runtime;

    /// <inheritdoc/>
    public long Swaps => Interlocked.Read(ref _swaps);

    /// <inheritdoc/>
    public bool IsServing(ModelRuntime runtime) => ReferenceEquals(_runtime, runtime);

    /// <summary>The swap sequence (<see cref="Swaps"/>): odd while a swap is under way.</summary>
    private long _swaps;

    public int MaxRowsPerRun => Options.MaxRowsPerRun;

    /// <summary>Gets the loaded model or throws what prevents serving.</summary>
    public ModelRuntime Runtime
    {
        get
        {
            var runtime = _runtime;
            if (runtime is not null)
            {
                return runtime;
            }

            throw NotServing();
        }
    }

    public bool IsLoaded => _runtime is not null;

    /// <inheritdoc/>
    IModelBatcher? IObservedModel.Batcher => Features.Batcher;

    /// <inheritdoc/>
    IPredictionCache? IObservedModel.Cache => Features.Cache;

    /// <inheritdoc/>
    long? IObservedModel.ServingVersion => _runtime?.Version;

    CandidateReport? IObservedModel.Candidate => Candidates.Current?.Report();

    /// <summary>The generation kept for rollback, if any.</summary>
    public ModelRuntime? Previous => _previous;

    /// <summary>The last reload's failure, when the version serving is older than the last attempt; null after a successful swap.</summary>
    public ReloadFailure? LastReloadFailure => _lastReloadFailure;

    /// <summary>Raised after a reload or rollback swapped the serving generation.</summary>
    public event EventHandler<ModelVersionChangedEventArgs>? VersionChanged;

    /// <summary>Raised when a reload failed; the previous generation keeps serving.</summary>
    public event EventHandler<ModelReloadFailedEventArgs>? ReloadFailed;

    /// <summary>
    /// Raised after an <see cref="IModelManager"/> operation succeeded, with the model's resulting state (see
    /// <see cref="RaiseOperation"/>); handlers run under a lock, in sequence order, and must only record or enqueue.
    /// </summary>
    public event EventHandler<ModelOperationEventArgs>? OperationApplied;

    private readonly Lock _operationLock = new();
    private long _operationSequence;

    /// <summary>Raises <see cref="OperationApplied"/> with the state as it is now (called by <see cref="ModelManager"/> after an operation).</summary>
    public void RaiseOperation(ModelOperationKind kind)
    {
        if (OperationApplied is null)
        {
            return;
        }

        lock (_operationLock)
        {
            var serving = _runtime;
            var handler = OperationApplied;
            if (serving is null || handler is null)
            {
                return;
            }

            var previous = _previous;
            var candidate = Candidates.Current;
            handler(this, new ModelOperationEventArgs(Name, kind, ++_operationSequence, ModelOperationScope.IsRemote,
                serving.Info, serving.FilePath, previous?.Info, _pinned,
                candidate?.Runtime.Info, candidate?.Runtime.FilePath, candidate?.Mode, candidate?.Share ?? 0));
        }
    }

    /// <summary>Takes a run slot on the serving generation without waiting; retries when a reload retired the one it found.</summary>
    public bool TryEnterCurrent(out ModelRuntime runtime)
    {
        while (true)
        {
            runtime = Runtime;
            try
            {
                return runtime.TryEnter();
            }
            catch (ModelNotReadyException) when (!ReferenceEquals(runtime, _runtime) && _runtime is not null)
            {
                // Retired by a reload between reading it and entering: use the new generation.
            }
        }
    }

    /// <summary>Waits for a run slot on the serving generation, following reloads.</summary>
    public async ValueTask<ModelRuntime> EnterCurrentAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var runtime = Runtime;
            try
            {
                if (!runtime.TryEnter())
                {
                    await runtime.EnterAsync(cancellationToken).ConfigureAwait(false);
                }

                return runtime;
            }
            catch (ModelNotReadyException) when (!ReferenceEquals(runtime, _runtime) && _runtime is not null)
            {
                // Retired by a reload while we waited: its drain woke us; continue on the new generation.
            }
        }
    }

    /// <summary>
    /// Loads <paramref name="source"/> (or the current source again) and warms it while the current generation
    /// serves, then swaps atomically; the replaced generation is kept for rollback (or drained and disposed).
    /// A failed load leaves the current generation serving and raises <see cref="ReloadFailed"/>.
    /// </summary>
    public async Task<ModelRuntime> ReloadAsync(ModelSource? source, CancellationToken cancellationToken, string? versionName = null)
    {
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var from = _runtime ?? throw NotServing();
            ThrowIfPinned("reload");
            var options = Options;

            // "The same source" is the serving version's: after a rollback or a promotion it is not the last one loaded.
            var next = source ?? from.Source ?? options.Source;
            ModelRuntime loaded;
            try
            {
                loaded = await Task.Run(() => ModelLoader.Load(Name, WithSource(options, next!), _contentRoot, Registration.Bind, _logger!, strictWarmup: !from.WarmupFailed), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                var error = ex as ModelLoadException ?? new ModelLoadException(Name, $"Model '{Name}' could not be reloaded from {next?.Description}: {ex.Message}", ex);
                _lastReloadFailure = new ReloadFailure(error.Message, Time.GetUtcNow(), next?.Description);
                Log.ReloadFailed(_logger!, Name, error);
                ReloadFailed?.Invoke(this, new ModelReloadFailedEventArgs(Name, from.Info, error));
                throw error;
            }

            if (versionName is not null)
            {
                loaded.Info = loaded.Info with { Name = versionName };
            }

            try
            {
                Swap(loaded, keepReplaced: options.KeepPreviousVersion, "reload");
            }
            catch
            {
                loaded.Dispose();
                throw;
            }

            WarnOnSignatureChange(from, loaded);
            return loaded;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>
    /// A file change: reloads the configured source, the file being watched (not a source a later reload was given:
    /// the file is what changed).
    /// </summary>
    internal Task<ModelRuntime> ReloadWatchedFileAsync() =>
        _runtime is null && _error is not null ? LoadAfterFailureAsync() : ReloadAsync(Options.Source, CancellationToken.None);

    /// <summary>Logs a reload that changed the inputs or outputs: requests written for the old ones may now fail.</summary>
    private void WarnOnSignatureChange(ModelRuntime from, ModelRuntime to)
    {
        var before = Describe(from.Signature);
        var after = Describe(to.Signature);
        if (before != after)
        {
            Log.SignatureChanged(_logger!, Name, from.Info.Version, to.Info.Version, before, after);
        }

        static string Describe(ModelSignature signature) =>
            "inputs " + ModelLoader.Describe(signature.Inputs) + "; outputs " + ModelLoader.Describe(signature.Outputs);
    }

    /// <summary>Swaps back to the generation kept by the last reload.</summary>
    public async Task<ModelRuntime> RollbackAsync(CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfPinned("roll back");
            var previous = _previous ?? throw new InvalidOperationException($"Model '{Name}' has no previous version to roll back to (reload first, with ModelOptions.KeepPreviousVersion = true).");
            Swap(previous, keepReplaced: true, "roll back");
            return previous;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    public async Task<T> UnderReloadLockAsync<T>(Func<Task<T>> action, CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await action().ConfigureAwait(false);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    public ModelRuntime LoadBeside(ModelSource source)
    {
        try
        {
            return ModelLoader.Load(Name, WithSource(Options, source), _contentRoot, Registration.Bind, _logger!, strictWarmup: _runtime is { WarmupFailed: false });
        }
        catch (ModelLoadException ex)
        {
            // Logged here with the file and ONNX Runtime's words: the HTTP answer (a 503 problem) does not carry them.
            Log.CandidateLoadFailed(_logger!, Name, source.Description, ex);
            throw;
        }
    }

    public void Promote(ModelRuntime runtime)
    {
        ThrowIfPinned("promote the candidate");
        Swap(runtime, keepReplaced: Options.KeepPreviousVersion, "promote the candidate");
    }

    /// <summary>The file watcher when <see cref="ModelOptions.WatchForChanges"/> is on.</summary>
    public ModelFileWatcher? Watcher { get; private set; }

    internal void LogFileChanged(string path) => Log.FileChanged(_logger!, Name, path);

    /// <summary>
    /// Starts the file watcher; also after a failed first load with <see cref="ModelOptions.ContinueOnLoadError"/>, so
    /// that writing a corrected file (or the missing one) loads the model. A missing directory cannot be watched: logged.
    /// </summary>
    private void StartWatching(ILogger logger)
    {
        if (!Options.WatchForChanges || Watcher is not null || Options.Source?.WatchPath(_contentRoot) is not { } path)
        {
            return;
        }

        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (directory is null || !Directory.Exists(directory))
        {
            Log.WatchUnavailable(logger, Name, $"the directory '{directory}' of {path} does not exist");
            return;
        }

        Watcher = new ModelFileWatcher(this, path, Options.ReloadDebounce);
    }

    /// <summary>
    /// Called once the model loaded after its first load failed (the registry starts the model's chain, as at start-up).
    /// </summary>
    public Action? LoadedAfterFailure { get; set; }

    /// <summary>
    /// A watched file changed while no version serves because the first load failed: loads it as at start-up. A failure
    /// is logged (event 1002) and kept as the error every caller gets, until the next change.
    /// </summary>
    private async Task<ModelRuntime> LoadAfterFailureAsync()
    {
        await _reloadLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_runtime is { } loaded)
            {
                return loaded; // loaded meanwhile
            }

            if (_stopped)
            {
                throw NotServing();
            }

            await Task.Run(() => Load(_contentRoot, _logger!)).ConfigureAwait(false);
            var runtime = Runtime;
            Log.LoadedAfterFailure(_logger!, Name, runtime.FilePath ?? Options.Source?.Description ?? "");
            LoadedAfterFailure?.Invoke();
            VersionChanged?.Invoke(this, new ModelVersionChangedEventArgs(Name, null, runtime.Info));
            return runtime;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>Versions that served, oldest first (bounded). Guarded by itself.</summary>
    private readonly List<ModelVersionInfo> _history = [];

    private const int HistoryLength = 32;

    private volatile bool _pinned;

    public bool IsPinned => _pinned;

    public IReadOnlyList<ModelVersionInfo> History
    {
        get
        {
            lock (_history)
            {
                return [.. _history];
            }
        }
    }

    public void Pin()
    {
        ModelVersionInfo serving;
        lock (_swapLock)
        {
            // Under the swap lock: a reload that was loading meanwhile sees the pin before it swaps, and is refused.
            serving = Runtime.Info; // throws when nothing serves: there is nothing to pin
            _pinned = true;
        }

        Log.VersionPinned(_logger!, Name, serving.Version, serving.Name ?? "");
    }

    public void Unpin()
    {
        if (_pinned)
        {
            _pinned = false;
            Log.VersionUnpinned(_logger!, Name);
        }
    }

    /// <summary>A file change while pinned: skipped (and logged) rather than reloaded.</summary>
    internal bool SkipWatchedReload()
    {
        if (!_pinned)
        {
            return false;
        }

        Log.ReloadSkippedPinned(_logger!, Name);
        return true;
    }

    private void ThrowIfPinned(string action)
    {
        if (_pinned)
        {
            var info = _runtime?.Info;
            throw new InvalidOperationException($"Model '{Name}' is pinned to version {info?.Version}{(info?.Name is { } n ? " (" + n + ")" : "")}; cannot {action}. Call IModelManager.Unpin() first.");
        }
    }

    private void AddHistory(ModelVersionInfo info)
    {
        lock (_history)
        {
            if (_history.Count == HistoryLength)
            {
                _history.RemoveAt(0);
            }

            _history.Add(info);
        }
    }

    /// <summary>
    /// Makes <paramref name="next"/> the serving generation, unless the version was pinned or the host stopped while it
    /// was being prepared (checked under the lock <see cref="Pin"/> and <see cref="Dispose"/> take).
    /// </summary>
    private void Swap(ModelRuntime next, bool keepReplaced, string action)
    {
        ModelRuntime replaced;
        ModelRuntime? dropped;
        lock (_swapLock)
        {
            if (_stopped || _runtime is null)
            {
                throw new ModelNotReadyException(Name, $"Model '{Name}' is stopped: the host is shutting down; cannot {action}.");
            }

            ThrowIfPinned(action);
            AddHistory(next.Info);
            Interlocked.Increment(ref _swaps);
            replaced = Interlocked.Exchange(ref _runtime, next)!;
            Interlocked.Increment(ref _swaps);
            dropped = keepReplaced ? Interlocked.Exchange(ref _previous, replaced) : replaced;
            _lastReloadFailure = null;
        }

        if (ReferenceEquals(dropped, next))
        {
            dropped = null; // rolling back: the generation we swap in was the kept one
        }

        if (dropped is not null)
        {
            // Drain off the caller's thread: in-flight runs finish on the old generation, then it is disposed.
            _ = Task.Run(() => dropped.Dispose(TimeSpan.FromSeconds(30)));
        }

        Log.VersionChanged(_logger!, Name, replaced.Info.Version, next.Info.Version, next.Info.Sha256);
        VersionChanged?.Invoke(this, new ModelVersionChangedEventArgs(Name, replaced.Info, next.Info));
    }

    private static ModelOptions WithSource(ModelOptions options, ModelSource source)
    {
        if (ReferenceEquals(options.Source, source))
        {
            return options;
        }

        var copy = options.Clone();
        copy.Source = source;
        return copy;
    }

    public void Load(string? contentRoot, ILogger logger)
    {
        _contentRoot = contentRoot;
        _logger = logger;
        if (_runtime is not null)
        {
            return;
        }

        try
        {
            var runtime = ModelLoader.Load(Name, Options, contentRoot, Registration.Bind, logger);
            if (Options.VersionName is { } versionName)
            {
                runtime.Info = runtime.Info with { Name = versionName };
            }

            if (BatchingOptions is not null && runtime.Binder is { Batchable: false } binder)
            {
                if (BatchingOptions.RequireBatching)
                {
                    runtime.Dispose();
                    throw new ModelLoadException(Name, $"Model '{Name}' uses batching with BatchingOptions.RequireBatching, but it cannot run several rows together: {binder.Batching.Reason}. Set the batch axes (ModelOptions.BatchAxes) or turn RequireBatching off.", null);
                }

                if (!_warnedNotBatchable)
                {
                    _warnedNotBatchable = true;
                    Log.ModelNotBatchable(logger, Name, binder.Batching.Reason ?? "");
                }
            }

            lock (_swapLock)
            {
                // A load after a failed start (the watched file changed) may finish after the host stopped, or race a
                // second start (StartModelsAsync): the first to finish serves, the other is dropped.
                if (_stopped || _runtime is not null)
                {
                    runtime.Dispose();
                    return;
                }

                AddHistory(runtime.Info);
                _runtime = runtime;
                _error = null;
            }

            StartWatching(logger);
        }
        catch (Exception ex)
        {
            var error = ex as ModelLoadException ?? new ModelLoadException(Name, $"Model '{Name}' could not be loaded from {Options.Source?.Description}: {ex.Message}", ex);
            _error = error;
            Log.ModelLoadFailed(logger, Name, error);
            if (Options.ContinueOnLoadError)
            {
                // The app starts without the model: watch anyway, so that a corrected file loads it.
                StartWatching(logger);
            }

            throw error;
        }
    }

    /// <summary>Drains the batcher (new requests are refused, queued ones run or fail after the drain timeout).</summary>
    public async Task StopAsync()
    {
        lock (_swapLock)
        {
            _stopped = true; // no reload swaps in from now on
        }

        if (Features.Batcher is { } batcher)
        {
            await batcher.StopAsync(Features.BatchingOptions!.DrainTimeout).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _stopped = true;
        Watcher?.Dispose();
        if (Features.Batcher is { } batcher)
        {
            // Without a host stop (plain ServiceProvider), still answer everything that is queued; bounded, because a
            // stop already in progress may be draining for its full timeout.
            var stopped = batcher.StopAsync(TimeSpan.Zero).Wait(TimeSpan.FromSeconds(5));
            if (stopped)
            {
                batcher.Dispose();
            }
        }

        ModelRuntime? runtime, previous;
        lock (_swapLock)
        {
            // A reload still loading finds the host stopped when it tries to swap, and disposes what it loaded.
            runtime = _runtime;
            Interlocked.Increment(ref _swaps);
            _runtime = null;
            Interlocked.Increment(ref _swaps);
            previous = _previous;
            _previous = null;
        }

        runtime?.Dispose();
        previous?.Dispose();
        Candidates.Dispose();
    }

    private Exception NotServing()
    {
        if (_error is { } error)
        {
            // Rethrowing the same instance from many callers would mix stack traces; wrap it.
            return new ModelLoadException(Name, error.Message, error);
        }

        return _stopped
            ? new ModelNotReadyException(Name, $"Model '{Name}' is stopped: the host is shutting down.")
            : new ModelNotReadyException(Name, $"Model '{Name}' is not loaded yet. Models load when the host starts (IHost.StartAsync); in a plain ServiceProvider call ModelServiceProviderExtensions.StartModelsAsync first.");
    }
}

/// <summary>A reload that failed while the previous version kept serving.</summary>
/// <param name="Message">Why.</param>
/// <param name="At">When.</param>
/// <param name="Source">What it tried to load.</param>
internal sealed record ReloadFailure(string Message, DateTimeOffset At, string? Source);
