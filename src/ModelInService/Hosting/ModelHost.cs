using System.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelInService.Batching;
using ModelInService.Caching;
using ModelInService.Binding;
using ModelInService.Runtime;
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

    public void Load(string? contentRoot, ILogger logger)
    {
        if (_runtime is not null)
        {
            return;
        }

        try
        {
            _runtime = ModelLoader.Load(Name, Options, contentRoot, Registration.Bind, logger);
            _error = null;
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

    /// <summary>Set by <see cref="ModelBuilder.UseCaching"/>.</summary>
    public bool UseCaching { get; set; }
}

/// <summary>Observes successful predictions (the monitor). Must not block: it runs on the request path.</summary>
internal interface IPredictionRecorder<in TInput, in TOutput>
{
    void Record(TInput input, TOutput output);
}

/// <summary>The type-erased face of a <see cref="DynamicBatcher{TInput, TOutput}"/> that the host manages.</summary>
internal interface IModelBatcher : IDisposable
{
    BatcherStatistics Statistics { get; }

    int QueueDepth { get; }

    Task StopAsync(TimeSpan drainTimeout);
}
