using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelInService.Hosting;
using ModelInService.Schema;
using System.Diagnostics.Metrics;

namespace ModelInService.Monitoring;

/// <summary>Marks a model as monitored (registered by <c>UseMonitoring</c>).</summary>
internal sealed record MonitoredModel(string Name);

/// <summary>
/// Creates one <see cref="ModelMonitor"/> per monitored model and attaches its recorder to the model's host, so
/// predictions are recorded from the first one served. Created when the monitoring hosted service starts or when a
/// monitor is first resolved, whichever comes first.
/// </summary>
internal sealed class MonitorRegistry : IDisposable
{
    private readonly Dictionary<string, ModelMonitor> _monitors = new(StringComparer.Ordinal);

    public MonitorRegistry(
        IServiceProvider services,
        ModelRegistry models,
        IEnumerable<MonitoredModel> monitored,
        IEnumerable<PipelineRegistration> pipelines,
        IOptionsMonitor<MonitoringOptions> options,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        TimeProvider? timeProvider = null)
    {
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelInService.Monitoring");
        var time = timeProvider ?? TimeProvider.System;
        foreach (var model in monitored)
        {
            if (_monitors.ContainsKey(model.Name))
            {
                continue;
            }

            var host = models.Get(model.Name);
            var registration = host.Registration;
            var monitorOptions = options.Get(model.Name);

            var recorder = (registration.CreateRecorder ?? throw new InvalidOperationException($"Model '{model.Name}' has no C# input and output types to monitor."))(monitorOptions, time, services);
            var name = model.Name;
            recorder.Schema.FindSpec = (tensor, role) => !host.IsLoaded ? null
                : role == FeatureRole.Input ? host.Runtime.Signature.FindInput(tensor) : host.Runtime.Signature.FindOutput(tensor);

            var monitor = new ModelMonitor(
                name,
                monitorOptions,
                recorder,
                (IReferenceSource)recorder,
                time,
                () => services.GetServices<IModelMonitorHandler>(),
                logger,
                new MonitorMetrics(meterFactory, name));
            _monitors[name] = monitor;

            if (pipelines.FirstOrDefault(p => p.Name == name) is { } pipeline)
            {
                // The pipeline's requests and responses: a monitor of their own, same settings, no reference file
                // (the model's reference describes the model's features, not the raw request's).
                var pipelineOptions = monitorOptions.Clone();
                pipelineOptions.ReferencePath = null;
                var pipelineName = PipelineRegistration.MonitorName(name);
                var pipelineRecorder = pipeline.CreateRecorder(pipelineOptions, time, services);
                _monitors[pipelineName] = new ModelMonitor(
                    pipelineName,
                    pipelineOptions,
                    pipelineRecorder,
                    (IReferenceSource)pipelineRecorder,
                    time,
                    () => services.GetServices<IModelMonitorHandler>(),
                    logger,
                    new MonitorMetrics(meterFactory, pipelineName));
                _pipelineRecorders[name] = pipelineRecorder;
            }
        }
    }

    private readonly Dictionary<string, RecorderBase> _pipelineRecorders = new(StringComparer.Ordinal);

    /// <summary>The recorder of the pipeline of model <paramref name="model"/>, or null when it is not monitored.</summary>
    public RecorderBase? FindPipelineRecorder(string model) => _pipelineRecorders.GetValueOrDefault(model);

    public IReadOnlyCollection<ModelMonitor> Monitors => _monitors.Values;

    /// <summary>Whether <paramref name="monitor"/> is a model's pipeline monitor (<c>"{name}:pipeline"</c>), not a model's own.</summary>
    public bool IsPipelineMonitor(ModelMonitor monitor) =>
        _pipelineRecorders.Keys.Any(model => string.Equals(PipelineRegistration.MonitorName(model), monitor.ModelName, StringComparison.Ordinal));

    public ModelMonitor? Find(string name) => _monitors.GetValueOrDefault(name);

    public ModelMonitor Get(string name) =>
        _monitors.TryGetValue(name, out var monitor)
            ? monitor
            : throw new InvalidOperationException($"Model '{name}' is not monitored; call UseMonitoring() on its builder.");

    public void Dispose()
    {
        foreach (var monitor in _monitors.Values)
        {
            monitor.Dispose();
        }
    }

    /// <summary>
    /// The recorder factory of a model or pipeline, made where its types are type arguments. The recorder builds a
    /// reference by predicting through the keyed <see cref="IPredictor{TInput, TOutput}"/>, unless
    /// <paramref name="noPredictorReason"/> says why there is none (a streaming model).
    /// </summary>
    internal static Func<MonitoringOptions, TimeProvider, IServiceProvider, RecorderBase> RecorderFactory<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TInput, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TOutput>(string name, string? noPredictorReason) =>
        (options, time, services) =>
        {
            var recorder = PredictionRecorder<TInput, TOutput>.Create(options, time);
            if (noPredictorReason is null)
            {
                recorder.Predictor = () => services.GetRequiredKeyedService<IPredictor<TInput, TOutput>>(name);
                recorder.ServingVersion = () =>
                {
                    try
                    {
                        // A pipeline's name has no model manager: its versions are unknown.
                        return services.GetKeyedService<IModelManager>(name)?.Current.Sha256;
                    }
                    catch (ModelNotReadyException)
                    {
                        return null;
                    }
                };
            }
            else
            {
                recorder.NoPredictorReason = noPredictorReason;
            }

            return recorder;
        };
}
