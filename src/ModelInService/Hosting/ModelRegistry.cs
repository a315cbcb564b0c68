using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelInService.Sessions;
using ModelInService.Telemetry;

namespace ModelInService.Hosting;

/// <summary>All registered models of a service provider, by name.</summary>
internal sealed class ModelRegistry : IDisposable
{
    private readonly Dictionary<string, ModelHost> _hosts = new(StringComparer.Ordinal);
    private readonly ILogger _logger;
    private readonly string? _contentRoot;
    private readonly SemaphoreSlim _startLock = new(1, 1);
    private readonly IServiceProvider _services;

    /// <summary>Whether the first start logged the start-up configuration warnings (<see cref="ConfigurationChecks"/>); under the start lock.</summary>
    private bool _checkedConfiguration;

    /// <summary>Logs run-time changes of the models' options (they take effect only after a restart); from the first start.</summary>
    private OptionsChangeReporter? _optionsChanges;

    public ModelRegistry(
        IEnumerable<ModelRegistration> registrations,
        IOptionsMonitor<ModelOptions> options,
        IOptionsMonitor<BatchingOptions> batching,
        IServiceProvider services,
        ILoggerFactory? loggerFactory = null,
        IHostEnvironment? environment = null,
        TimeProvider? timeProvider = null,
        IMeterFactory? meterFactory = null)
    {
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelInService");
        _contentRoot = environment?.ContentRootPath;
        _services = services;
        Metrics = meterFactory is null ? null : new ModelMetrics(meterFactory, () => Hosts);
        foreach (var registration in registrations)
        {
            var batchingOptions = registration.UseBatching ? batching.Get(registration.Name) : null;
            var host = new ModelHost(registration, options.Get(registration.Name), batchingOptions, timeProvider ?? TimeProvider.System);
            host.LoadedAfterFailure = () => StartChain(host);
            _hosts[registration.Name] = host;
        }

        CheckFallbacks();
    }

    /// <summary>
    /// Refuses, at start-up, fallbacks that would only fail when a model fails: a model name nobody registered, a model
    /// of other types, or a cycle (a → b → a overflowed the stack and killed the process at the first failure).
    /// </summary>
    private void CheckFallbacks()
    {
        foreach (var host in _hosts.Values)
        {
            var registration = host.Registration;
            if (registration.FallbackModel is not { } first)
            {
                continue;
            }

            if (!_hosts.TryGetValue(first, out var target))
            {
                throw new InvalidOperationException($"Model '{registration.Name}' falls back to model '{first}' (UseFallback), but no model of that name is registered; the models are: {string.Join(", ", _hosts.Keys.Order(StringComparer.Ordinal))}.");
            }

            if (target.Registration.InputType != registration.InputType || target.Registration.OutputType != registration.OutputType)
            {
                throw new InvalidOperationException($"Model '{registration.Name}' falls back to model '{first}' (UseFallback), which takes {target.Registration.InputType?.Name ?? "untyped inputs"} and gives {target.Registration.OutputType?.Name ?? "untyped outputs"}, not {registration.InputType?.Name} and {registration.OutputType?.Name}.");
            }

            var path = new List<string> { registration.Name };
            for (var next = first; next is not null; next = _hosts[next].Registration.FallbackModel)
            {
                path.Add(next);
                if (next == registration.Name)
                {
                    throw new InvalidOperationException($"The fallbacks of model '{registration.Name}' form a cycle ({string.Join(" -> ", path)}): a failure would be passed around forever. Remove one UseFallback.");
                }

                if (path.Count > _hosts.Count + 1 || !_hosts.ContainsKey(next))
                {
                    break; // another model's cycle or unknown name: reported for that model
                }
            }
        }
    }

    public IReadOnlyCollection<ModelHost> Hosts => _hosts.Values;

    /// <summary>The package's instruments; null when no <see cref="IMeterFactory"/> is registered (plain ServiceProvider).</summary>
    public ModelMetrics? Metrics { get; }

    public ModelHost Get(string name) =>
        _hosts.TryGetValue(name, out var host)
            ? host
            : throw new InvalidOperationException($"No model named '{name}' is registered (registered: {string.Join(", ", _hosts.Keys)}).");

    /// <summary>Loads every model not loaded yet. Throws the load errors of models that may not fail.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _startLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_checkedConfiguration)
            {
                _checkedConfiguration = true;
                ConfigurationChecks.Run(_services, _hosts.Values, _logger);
                _optionsChanges = OptionsChangeReporter.Start(_services, _hosts.Values, _logger);
            }

            var errors = new List<Exception>();
            foreach (var host in _hosts.Values)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (host.IsLoaded)
                {
                    continue;
                }

                try
                {
                    // Loading is CPU- and IO-bound native work: keep it off the caller's (possibly UI or request) thread.
                    await Task.Run(() => host.Load(_contentRoot, _logger), cancellationToken).ConfigureAwait(false);
                }
                catch (ModelLoadException ex) when (!host.Options.ContinueOnLoadError)
                {
                    errors.Add(ex);
                }
                catch (ModelLoadException)
                {
                    // Logged by the host; callers get the error from every prediction.
                }
            }

            // Compose every typed model's chain now, not on the first request, and start what needs the loaded model
            // (its batcher, which metrics and health then see). A chain resolved before the start is started here too.
            foreach (var host in _hosts.Values)
            {
                StartChain(host);
            }

            if (errors.Count == 1)
            {
                throw errors[0];
            }

            if (errors.Count > 1)
            {
                throw new AggregateException($"{errors.Count} models failed to load: {string.Join("; ", errors.Select(e => e.Message))}", errors);
            }
        }
        finally
        {
            _startLock.Release();
        }
    }

    /// <summary>Composes a typed model's chain and, once the model is loaded, starts what needs it (its batcher).</summary>
    private void StartChain(ModelHost host)
    {
        if (host.Registration.BuildPredictor?.Invoke(_services) is IStartableChain chain && host.IsLoaded)
        {
            chain.Start();
        }
    }

    public Task StopAsync() => Task.WhenAll(_hosts.Values.Select(h => h.StopAsync()));

    /// <summary>Waits until every answered prediction has been handed to its model's recorder (the monitor's final snapshot needs them).</summary>
    public void Dispose()
    {
        _optionsChanges?.Dispose();
        foreach (var host in _hosts.Values)
        {
            try
            {
                host.Dispose();
                Log.ModelUnloaded(_logger, host.Name);
            }
#pragma warning disable CA1031 // One model failing to dispose must not leak the others.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.ModelDisposeFailed(_logger, host.Name, ex);
            }
        }

        _startLock.Dispose();
    }
}
