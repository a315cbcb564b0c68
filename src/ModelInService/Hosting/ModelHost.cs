using System.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelInService.Batching;
using ModelInService.Caching;
using ModelInService.Schema;
using ModelInService.Sessions;
using ModelInService.Telemetry;

namespace ModelInService.Hosting;

/// <summary>The life of one registered model: not loaded, loaded (a <see cref="ModelRuntime"/>), failed, or stopped.</summary>
[DebuggerDisplay("{Name}: {State}")]
internal sealed class ModelHost : IDisposable
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

    /// <summary>The source the next reload reads (changes when a reload is given a new source).</summary>
    private ModelSource? _source;

    public ModelHost(ModelRegistration registration, ModelOptions options, BatchingOptions? batching, CachingOptions? caching, TimeProvider time, ModelMetrics? metrics = null)
    {
        Metrics = metrics;
        Registration = registration;
        Options = options;
        BatchingOptions = batching;
        Time = time;
        if (caching is not null && registration.CreateCache is not null)
        {
            Cache = registration.CreateCache(caching, time);
        }
    }

    /// <summary>The prediction cache (a <see cref="PredictionCache{TInput, TOutput}"/>) when caching is on.</summary>
    public IPredictionCache? Cache { get; }

    /// <summary>
    /// Receives every successful prediction (an <see cref="IPredictionRecorder{TInput, TOutput}"/>), e.g. the monitor.
    /// Set before the host starts serving; called on the request path, so it must only enqueue.
    /// </summary>
    public object? Recorder { get; set; }

    public BatchingOptions? BatchingOptions { get; }

    /// <summary>The package's instruments, or null without an <c>IMeterFactory</c>.</summary>
    public ModelMetrics? Metrics { get; }

    public TimeProvider Time { get; }

    /// <summary>The batcher (a <see cref="DynamicBatcher{TInput, TOutput}"/>) when batching is on and the model loaded.</summary>
    public IModelBatcher? Batcher { get; private set; }

    public ModelRegistration Registration { get; }

    public string Name => Registration.Name;

    public ModelOptions Options { get; }

    public string State => _runtime is not null ? "ready" : _error is not null ? "failed" : _stopped ? "stopped" : "not loaded";

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

    /// <summary>The generation kept for rollback, if any.</summary>
    public ModelRuntime? Previous => _previous;

    /// <summary>Raised after a reload or rollback swapped the serving generation.</summary>
    public event EventHandler<ModelVersionChangedEventArgs>? VersionChanged;

    /// <summary>Raised when a reload failed; the previous generation keeps serving.</summary>
    public event EventHandler<ModelReloadFailedEventArgs>? ReloadFailed;

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
            var next = source ?? _source ?? options.Source;
            ModelRuntime loaded;
            try
            {
                loaded = await Task.Run(() => ModelLoader.Load(Name, WithSource(options, next!), _contentRoot, Registration.Bind, _logger!), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                var error = ex as ModelLoadException ?? new ModelLoadException(Name, $"Model '{Name}' could not be reloaded from {next?.Description}: {ex.Message}", ex);
                Log.ReloadFailed(_logger!, Name, error);
                ReloadFailed?.Invoke(this, new ModelReloadFailedEventArgs(Name, from.Info, error));
                throw error;
            }

            _source = next;
            if (versionName is not null)
            {
                loaded.Info = loaded.Info with { Name = versionName };
            }

            Swap(loaded, keepReplaced: options.KeepPreviousVersion);
            return loaded;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>Swaps back to the generation kept by the last reload.</summary>
    public async Task<ModelRuntime> RollbackAsync(CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfPinned("roll back");
            var previous = _previous ?? throw new InvalidOperationException($"Model '{Name}' has no previous version to roll back to (reload first, with ModelOptions.KeepPreviousVersion = true).");
            Swap(previous, keepReplaced: true);
            return previous;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>The candidate under canary or shadow, if any.</summary>
    private volatile CandidateState? _candidate;

    public CandidateState? Candidate => _candidate;

    /// <summary>Loads <paramref name="source"/> as a candidate beside the serving version (the serving version is untouched).</summary>
    public async Task<ModelRuntime> StartCandidateAsync(ModelSource source, CandidateMode mode, double share, CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var loaded = await Task.Run(() => ModelLoader.Load(Name, WithSource(Options, source), _contentRoot, Registration.Bind, _logger!), cancellationToken).ConfigureAwait(false);
            var replaced = Interlocked.Exchange(ref _candidate, new CandidateState(loaded, mode, share));
            Retire(replaced?.Runtime);
            return loaded;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>Makes the candidate the serving version (like a reload, without loading again).</summary>
    public async Task<ModelRuntime> PromoteCandidateAsync(CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfPinned("promote the candidate");
            var candidate = Interlocked.Exchange(ref _candidate, null) ?? throw new InvalidOperationException($"Model '{Name}' has no candidate to promote.");
            Swap(candidate.Runtime, keepReplaced: Options.KeepPreviousVersion);
            return candidate.Runtime;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>Ends the canary or shadow; the candidate is drained and unloaded.</summary>
    public async Task StopCandidateAsync(CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Retire(Interlocked.Exchange(ref _candidate, null)?.Runtime);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    private static void Retire(ModelRuntime? runtime)
    {
        if (runtime is not null)
        {
            _ = Task.Run(() => runtime.Dispose(TimeSpan.FromSeconds(30)));
        }
    }

    /// <summary>The file watcher when <see cref="ModelOptions.WatchForChanges"/> is on.</summary>
    public ModelFileWatcher? Watcher { get; private set; }

    internal void LogFileChanged(string path) => Log.FileChanged(_logger!, Name, path);

    private void StartWatching()
    {
        if (!Options.WatchForChanges || Watcher is not null || Options.Source?.ResolvePath(_contentRoot) is not { } path)
        {
            return;
        }

        Watcher = new ModelFileWatcher(this, path, Options.ReloadDebounce);
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
        var serving = Runtime.Info; // throws when nothing serves: there is nothing to pin
        _pinned = true;
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

    private void Swap(ModelRuntime next, bool keepReplaced)
    {
        AddHistory(next.Info);
        var replaced = Interlocked.Exchange(ref _runtime, next)!;
        var dropped = keepReplaced ? Interlocked.Exchange(ref _previous, replaced) : replaced;
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

            if (BatchingOptions is not null && Registration.CreateBatcher is not null && runtime.Binder is { Batchable: false } binder)
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

            AddHistory(runtime.Info);
            _runtime = runtime;
            _error = null;
            StartWatching();
            if (BatchingOptions is not null && Registration.CreateBatcher is not null && Batcher is null)
            {
                Batcher = Registration.CreateBatcher(this, BatchingOptions, Time);
                if (Metrics is not null)
                {
                    Batcher.Statistics.Listener = Metrics.ForBatcher(Name);
                }
            }
        }
        catch (Exception ex)
        {
            var error = ex as ModelLoadException ?? new ModelLoadException(Name, $"Model '{Name}' could not be loaded from {Options.Source?.Description}: {ex.Message}", ex);
            _error = error;
            Log.ModelLoadFailed(logger, Name, error);
            throw error;
        }
    }

    /// <summary>
    /// Predictions whose recording (monitor) is still to happen, counted per processor stripe (every 16th int, one
    /// cache line apart) so the request path never contends on one counter; see <see cref="WhenRecordedAsync"/>.
    /// </summary>
    private readonly int[] _recording = new int[16 * RecordingStripes];

    private const int RecordingStripes = 16;

    /// <summary>Marks a prediction whose result will be handed to the recorder once it completes; pass the result to <see cref="EndRecording"/>.</summary>
    internal int BeginRecording()
    {
        var slot = (Thread.GetCurrentProcessorId() & (RecordingStripes - 1)) * 16;
        Interlocked.Increment(ref _recording[slot]);
        return slot;
    }

    /// <summary>The prediction marked by <see cref="BeginRecording"/> has been recorded (or failed).</summary>
    internal void EndRecording(int slot) => Interlocked.Decrement(ref _recording[slot]);

    /// <summary>Waits until every prediction answered so far has reached the recorder (after <see cref="StopAsync"/>: nothing new starts).</summary>
    public async Task WhenRecordedAsync(CancellationToken cancellationToken)
    {
        // Only at shutdown, and only for the continuations of already answered requests: a short poll is simplest.
        while (Outstanding() > 0)
        {
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }

        int Outstanding()
        {
            var sum = 0;
            for (var i = 0; i < _recording.Length; i += 16)
            {
                sum += Volatile.Read(ref _recording[i]);
            }

            return sum;
        }
    }

    /// <summary>
    /// Whether serving-path predictions are recorded by the batch executor (a batcher and no cache: every such request
    /// is one row of a batch) rather than by the predictor after each call.
    /// </summary>
    public bool RecordsInBatches => Batcher is not null && Cache is null;

    /// <summary>Drains the batcher (new requests are refused, queued ones run or fail after the drain timeout).</summary>
    public async Task StopAsync()
    {
        _stopped = true;
        if (Batcher is { } batcher)
        {
            await batcher.StopAsync(BatchingOptions!.DrainTimeout).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _stopped = true;
        Watcher?.Dispose();
        if (Batcher is { } batcher)
        {
            // Without a host stop (plain ServiceProvider), still answer everything that is queued; bounded, because a
            // stop already in progress may be draining for its full timeout.
            var stopped = batcher.StopAsync(TimeSpan.Zero).Wait(TimeSpan.FromSeconds(5));
            if (stopped)
            {
                batcher.Dispose();
            }
        }

        var runtime = _runtime;
        _runtime = null;
        runtime?.Dispose();
        var previous = _previous;
        _previous = null;
        previous?.Dispose();
        var candidate = _candidate;
        _candidate = null;
        candidate?.Runtime.Dispose();
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

/// <summary>What <c>AddModel</c> recorded: the name and, for typed models, how to bind the schema and build a batcher.</summary>
internal sealed class ModelRegistration(
    string name,
    Type? inputType,
    Type? outputType,
    Func<string, ModelSignature, ModelOptions, IModelBinder>? bind,
    Func<ModelHost, BatchingOptions, TimeProvider, IModelBatcher>? createBatcher,
    Func<CachingOptions, TimeProvider, IPredictionCache>? createCache)
{
    public string Name { get; } = name;

    public Type? InputType { get; } = inputType;

    public Type? OutputType { get; } = outputType;

    public Func<string, ModelSignature, ModelOptions, IModelBinder>? Bind { get; } = bind;

    public Func<ModelHost, BatchingOptions, TimeProvider, IModelBatcher>? CreateBatcher { get; } = createBatcher;

    public Func<CachingOptions, TimeProvider, IPredictionCache>? CreateCache { get; } = createCache;

    /// <summary>Set by <see cref="ModelBuilder.UseBatching"/>.</summary>
    public bool UseBatching { get; set; }

    /// <summary>Set by <see cref="ModelBuilder.UseFallback{TInput, TOutput}"/>: a <c>Func&lt;TInput, Exception, CancellationToken, ValueTask&lt;TOutput&gt;&gt;</c>.</summary>
    public object? FallbackDelegate { get; set; }

    /// <summary>Set by <see cref="ModelBuilder.UseFallback(string)"/>: another registered model with the same types.</summary>
    public string? FallbackModel { get; set; }

    /// <summary>Set by <see cref="ModelBuilder.UseCaching"/>.</summary>
    public bool UseCaching { get; set; }
}

/// <summary>Observes successful predictions (the monitor). Must not block: it runs on the request path.</summary>
internal interface IPredictionRecorder<TInput, TOutput>
{
    void Record(TInput input, TOutput output);

    /// <summary>Records the rows of one batch the model answered (one clock read for all of them).</summary>
    void RecordBatch(ReadOnlySpan<TInput> inputs, ReadOnlySpan<TOutput> outputs);
}

/// <summary>The type-erased face of a <see cref="DynamicBatcher{TInput, TOutput}"/> that the host manages.</summary>
internal interface IModelBatcher : IDisposable
{
    BatcherStatistics Statistics { get; }

    int QueueDepth { get; }

    Task StopAsync(TimeSpan drainTimeout);
}
