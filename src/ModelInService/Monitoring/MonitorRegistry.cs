using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelInService.Hosting;
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

            // Reflection once at start-up (see the report: a createRecorder factory in AddModel would remove it).
            var recorderType = typeof(PredictionRecorder<,>).MakeGenericType(registration.InputType!, registration.OutputType!);
            var recorder = (RecorderBase)recorderType.GetMethod("Create")!.Invoke(null, [monitorOptions, time])!;
            var name = model.Name;
            if (!registration.IsStreaming)
            {
                // A streaming model has no IPredictor: its answers depend on each stream's state (no reference from inputs alone).
                var resolve = typeof(MonitorRegistry).GetMethod(nameof(PredictorResolver), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                    .MakeGenericMethod(registration.InputType!, registration.OutputType!)
                    .Invoke(null, [services, name]);
                recorderType.GetProperty("Predictor")!.SetValue(recorder, resolve);
            }
            else
            {
                recorderType.GetProperty("NoPredictorReason")!.SetValue(recorder, $"Model '{name}' is a streaming model: its answers depend on each stream's state, so a reference cannot be built by predicting independent inputs. Freeze a window of served chunks (IModelMonitor.FreezeReference) or load a reference file (MonitoringOptions.ReferencePath).");
            }
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
                var pipelineRecorderType = typeof(PredictionRecorder<,>).MakeGenericType(pipeline.RequestType, pipeline.ResponseType);
                var pipelineRecorder = (RecorderBase)pipelineRecorderType.GetMethod("Create")!.Invoke(null, [pipelineOptions, time])!;
                var resolvePipeline = typeof(MonitorRegistry).GetMethod(nameof(PredictorResolver), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                    .MakeGenericMethod(pipeline.RequestType, pipeline.ResponseType)
                    .Invoke(null, [services, name]);
                pipelineRecorderType.GetProperty("Predictor")!.SetValue(pipelineRecorder, resolvePipeline);
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

    private static Func<IPredictor<TInput, TOutput>> PredictorResolver<TInput, TOutput>(IServiceProvider services, string name) =>
        () => services.GetRequiredKeyedService<IPredictor<TInput, TOutput>>(name);
}
