using ModelInService.Schema;

namespace ModelInService.Hosting;

/// <summary>What <c>AddModel</c> recorded: the name, the features asked for and, for typed models, how to bind the schema and build the predictor.</summary>
internal sealed class ModelRegistration(
    string name,
    Type? inputType,
    Type? outputType,
    Func<string, ModelSignature, ModelOptions, IModelBinder>? bind,
    Func<IServiceProvider, object>? buildPredictor)
{
    public string Name { get; } = name;

    public Type? InputType { get; } = inputType;

    public Type? OutputType { get; } = outputType;

    public Func<string, ModelSignature, ModelOptions, IModelBinder>? Bind { get; } = bind;

    /// <summary>Resolves the typed predictor (builds its chain); null for models registered without types.</summary>
    public Func<IServiceProvider, object>? BuildPredictor { get; } = buildPredictor;

    /// <summary>Whether the model has C# input and output types (batching, caching and fallback need them).</summary>
    public bool IsTyped => InputType is not null;

    /// <summary>Set by <see cref="BatchingBuilderExtensions.UseBatching"/>.</summary>
    public bool UseBatching { get; set; }

    /// <summary>Set by <see cref="FallbackBuilderExtensions.UseFallback{TInput, TOutput}"/>: a <c>Func&lt;TInput, Exception, CancellationToken, ValueTask&lt;TOutput&gt;&gt;</c>.</summary>
    public object? FallbackDelegate { get; set; }

    /// <summary>Set by <see cref="FallbackBuilderExtensions.UseFallback(ModelBuilder, string)"/>: another registered model with the same types.</summary>
    public string? FallbackModel { get; set; }

    /// <summary>Set by <see cref="CachingBuilderExtensions.UseCaching"/>.</summary>
    public bool UseCaching { get; set; }

    /// <summary>
    /// Builds the monitor's recorder for the model's types (set where they are type arguments, by <c>AddModel</c> and
    /// <c>AddStreamingModel</c>, so the monitor needs no <c>MakeGenericType</c>); null for models without types.
    /// </summary>
    public Func<MonitoringOptions, TimeProvider, IServiceProvider, Monitoring.RecorderBase>? CreateRecorder { get; set; }

    /// <summary>Set by <c>AddStreamingModel</c>: served as <see cref="IStreamPredictor{TChunk, TResult}"/>, with no <see cref="IPredictor{TInput, TOutput}"/>.</summary>
    public bool IsStreaming { get; set; }
}
