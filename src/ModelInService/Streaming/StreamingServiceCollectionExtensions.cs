using ModelInService.Schema;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelInService.Hosting;
using ModelInService.Monitoring;
using ModelInService.Streaming;

namespace ModelInService;

/// <summary>Registers stateful streaming models (docs/streaming.md).</summary>
public static class StreamingServiceCollectionExtensions
{
    /// <summary>
    /// Registers the streaming model at <paramref name="path"/> under <paramref name="name"/>, served as
    /// <see cref="IStreamPredictor{TChunk, TResult}"/>: each stream's state is kept between its chunks, and the chunks
    /// of concurrent streams run together (sequence batching).
    /// </summary>
    /// <typeparam name="TChunk">One chunk; its members map to the model's inputs other than the states and constants.</typeparam>
    /// <typeparam name="TResult">The answer for one chunk; its members map to the model's outputs other than the next states.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="name">The model name: the DI key and the name in logs, errors and metrics.</param>
    /// <param name="path">The model file; a relative path is resolved against the content root, then the app's base directory.</param>
    /// <param name="configure">Declares the states, context and constants, and sets the bounds and batching; null for the defaults (states found from the signature).</param>
    /// <returns>A builder to adjust the model's options.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> or <paramref name="path"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">A model with the same name, or one differing only by case, is already registered.</exception>
    public static StreamingModelBuilder AddStreamingModel<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TChunk, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TResult>(this IServiceCollection services, string name, string path, Action<StreamingOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return services.AddStreamingModel<TChunk, TResult>(name, options => options.Source = ModelSource.FromFile(path), configure);
    }

    /// <summary>Registers a streaming model under <paramref name="name"/>, served as <see cref="IStreamPredictor{TChunk, TResult}"/>.</summary>
    /// <typeparam name="TChunk">One chunk; its members map to the model's inputs other than the states and constants.</typeparam>
    /// <typeparam name="TResult">The answer for one chunk; its members map to the model's outputs other than the next states.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="name">The model name: the DI key and the name in logs, errors and metrics.</param>
    /// <param name="configureModel">Sets the model's options; at least <see cref="ModelOptions.Source"/>.</param>
    /// <param name="configure">Declares the states, context and constants, and sets the bounds and batching; null for the defaults.</param>
    /// <returns>A builder to adjust the options further.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configureModel"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">A model with the same name, or one differing only by case, is already registered.</exception>
    public static StreamingModelBuilder AddStreamingModel<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TChunk, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TResult>(this IServiceCollection services, string name, Action<ModelOptions> configureModel, Action<StreamingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configureModel);

        // A stateful model's warm-up with zeros (sr = 0 for Silero) proves nothing; the first batch warms it.
        var model = ModelServiceCollectionExtensions.Register(services, name, o =>
            {
                o.WarmupRuns = 0;
                configureModel(o);
            },
            typeof(TChunk), typeof(TResult),
            static (modelName, signature, options) => StreamingBinder<TChunk, TResult>.Create(modelName, signature, options),
            sp => sp.GetRequiredKeyedService<IStreamPredictor<TChunk, TResult>>(name));
        model.Registration.IsStreaming = true;

        // A streaming model has no IPredictor: its answers depend on each stream's state (no reference from inputs alone).
        model.Registration.CreateRecorder = Monitoring.MonitorRegistry.RecorderFactory<TChunk, TResult>(
            name,
            $"Model '{name}' is a streaming model: its answers depend on each stream's state, so a reference cannot be built by predicting independent inputs. Freeze a window of served chunks (IModelMonitor.FreezeReference) or load a reference file (MonitoringOptions.ReferencePath).");

        // The binder reads the streaming declarations from the model's options when the model loads.
        services.AddOptions<ModelOptions>(name).Configure<IOptionsMonitor<StreamingOptions>>((o, streaming) => o.Streaming = streaming.Get(name));
        var streamingOptions = services.AddOptions<StreamingOptions>(name);
        if (configure is not null)
        {
            streamingOptions.Configure(configure);
        }

        streamingOptions.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StreamingOptions>, StreamingOptionsValidator>());
        services.TryAddSingleton(static sp => sp.GetService<IMeterFactory>() is { } meters ? new StreamingMetricsHolder(new StreamingMetrics(meters)) : new StreamingMetricsHolder(null));
        services.AddKeyedSingleton<IStreamPredictor<TChunk, TResult>>(name, static (sp, key) =>
        {
            var modelName = (string)key!;
            var registry = sp.GetRequiredService<ModelRegistry>();
            var options = sp.GetRequiredService<IOptionsMonitor<StreamingOptions>>().Get(modelName);
            var logger = sp.GetService<ILoggerFactory>()?.CreateLogger("ModelInService.Streaming") ?? NullLogger.Instance;

            // Whether chunks are recorded is decided here, once (UseMonitoring on the builder), not per chunk.
            var recorder = sp.GetService<MonitorRegistry>()?.Find(modelName)?.Recorder as PredictionRecorder<TChunk, TResult>;
            return new StreamPredictor<TChunk, TResult>(registry, modelName, options, sp.GetRequiredService<StreamingMetricsHolder>().Metrics, recorder, logger);
        });
        services.TryAddSingleton<IStreamPredictor<TChunk, TResult>>(sp => sp.GetRequiredKeyedService<IStreamPredictor<TChunk, TResult>>(name));
        return new StreamingModelBuilder(model);
    }
}

/// <summary>Returned by <c>AddStreamingModel</c>: adjusts a registered streaming model's options.</summary>
/// <remarks>Use it while configuring services; it is not thread-safe.</remarks>
public sealed class StreamingModelBuilder
{
    private readonly ModelBuilder _model;

    internal StreamingModelBuilder(ModelBuilder model) => _model = model;

    /// <summary>The underlying registration's builder (UseMonitoring adds to it).</summary>
    internal ModelBuilder Model => _model;

    /// <summary>Gets the service collection the model is registered in.</summary>
    public IServiceCollection Services => _model.Services;

    /// <summary>Gets the model name (the DI key).</summary>
    public string Name => _model.Name;

    /// <summary>Configures the model's options further (source, threads, execution provider).</summary>
    /// <param name="configure">Changes the options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configure"/> is null.</exception>
    public StreamingModelBuilder Configure(Action<ModelOptions> configure)
    {
        _model.Configure(configure);
        return this;
    }

    /// <summary>Configures the streaming options further (states, context, constants, bounds, batching).</summary>
    /// <param name="configure">Changes the options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configure"/> is null.</exception>
    public StreamingModelBuilder ConfigureStreaming(Action<StreamingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(Name, configure);
        return this;
    }
}
