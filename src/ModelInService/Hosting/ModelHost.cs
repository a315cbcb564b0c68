using System.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelInService.Binding;
using ModelInService.Runtime;

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

    public ModelHost(ModelRegistration registration, ModelOptions options)
    {
        Registration = registration;
        Options = options;
    }

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
        }
        catch (Exception ex)
        {
            var error = ex as ModelLoadException ?? new ModelLoadException(Name, $"Model '{Name}' could not be loaded from {Options.Source?.Description}: {ex.Message}", ex);
            _error = error;
            Log.ModelLoadFailed(logger, Name, error);
            throw error;
        }
    }

    public void Stop()
    {
        _stopped = true;
    }

    public void Dispose()
    {
        _stopped = true;
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

/// <summary>What <c>AddModel</c> recorded: the name and, for typed models, how to bind the schema.</summary>
internal sealed class ModelRegistration(string name, Type? inputType, Type? outputType, Func<string, ModelSignature, ModelOptions, IModelBinder>? bind)
{
    public string Name { get; } = name;

    public Type? InputType { get; } = inputType;

    public Type? OutputType { get; } = outputType;

    public Func<string, ModelSignature, ModelOptions, IModelBinder>? Bind { get; } = bind;
}
