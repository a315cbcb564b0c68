using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelInService.Batching;
using ModelInService.Caching;
using ModelInService.Hosting;

namespace ModelInService;

/// <summary>
/// Returned by <c>AddModel</c>: the place where features are added to a registered model (batching, caching,
/// monitoring in later releases).
/// </summary>
/// <remarks>Use it while configuring services; it is not thread-safe.</remarks>
public sealed class ModelBuilder
{
    internal ModelBuilder(IServiceCollection services, string name, ModelRegistration registration)
    {
        Services = services;
        Name = name;
        Registration = registration;
    }

    internal ModelRegistration Registration { get; }

    /// <summary>Gets the service collection the model is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets the model name (the DI key).</summary>
    public string Name { get; }

    /// <summary>
    /// Wraps the model in typed pre- and post-processing steps (feature transformations that are not part of the ONNX
    /// graph), registered as <c>IPredictor&lt;TRequest, TResponse&gt;</c> under the model's name. The model's own
    /// predictor stays available; both share its batching, cache and versions. With <c>UseMonitoring</c> the model's
    /// monitor profiles the model's input, and a second monitor, keyed <c>"{name}:pipeline"</c>, profiles the raw
    /// requests and the responses. A step that rejects a request throws <see cref="ModelInputException"/> (HTTP 400).
    /// </summary>
    /// <typeparam name="TRequest">What callers send.</typeparam>
    /// <typeparam name="TInput">The model's input type (as registered).</typeparam>
    /// <typeparam name="TOutput">The model's output type (as registered).</typeparam>
    /// <typeparam name="TResponse">What callers receive.</typeparam>
    /// <param name="preprocess">Turns a request into the model's input.</param>
    /// <param name="postprocess">Builds the response from the request and the model's output.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException">A step is null.</exception>
    /// <exception cref="InvalidOperationException">The steps do not fit the model's types, or the model already has a pipeline.</exception>
    public ModelBuilder WithPipeline<TRequest, TInput, TOutput, TResponse>(Func<TRequest, TInput> preprocess, Func<TRequest, TOutput, TResponse> postprocess)
    {
        ArgumentNullException.ThrowIfNull(preprocess);
        ArgumentNullException.ThrowIfNull(postprocess);
        Pipelines.Register<TRequest, TInput, TOutput, TResponse>(this, (request, _) => new ValueTask<TInput>(preprocess(request)), postprocess);
        return this;
    }

    /// <summary>
    /// Like <see cref="WithPipeline{TRequest, TInput, TOutput, TResponse}(Func{TRequest, TInput}, Func{TRequest, TOutput, TResponse})"/>,
    /// with an asynchronous pre-processing step (e.g. a feature-store lookup).
    /// </summary>
    /// <typeparam name="TRequest">What callers send.</typeparam>
    /// <typeparam name="TInput">The model's input type (as registered).</typeparam>
    /// <typeparam name="TOutput">The model's output type (as registered).</typeparam>
    /// <typeparam name="TResponse">What callers receive.</typeparam>
    /// <param name="preprocess">Turns a request into the model's input; receives the caller's cancellation token.</param>
    /// <param name="postprocess">Builds the response from the request and the model's output.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException">A step is null.</exception>
    /// <exception cref="InvalidOperationException">The steps do not fit the model's types, or the model already has a pipeline.</exception>
    public ModelBuilder WithPipeline<TRequest, TInput, TOutput, TResponse>(Func<TRequest, CancellationToken, ValueTask<TInput>> preprocess, Func<TRequest, TOutput, TResponse> postprocess)
    {
        ArgumentNullException.ThrowIfNull(preprocess);
        ArgumentNullException.ThrowIfNull(postprocess);
        Pipelines.Register(this, preprocess, postprocess);
        return this;
    }

    /// <summary>Configures the model's options further.</summary>
    /// <param name="configure">Changes the options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configure"/> is null.</exception>
    public ModelBuilder Configure(Action<ModelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(Name, configure);
        return this;
    }

    /// <summary>
    /// Collects concurrent <c>PredictAsync</c> calls into batches: bounded queue with immediate rejection
    /// (<see cref="ModelOverloadedException"/>), deadlines that include queue time, priorities, cancellation, poison
    /// isolation and a graceful drain at shutdown. See docs/batching.md.
    /// </summary>
    /// <param name="configure">Adjusts the batching options; the defaults suit small tabular models.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The model was registered without C# types (batching needs <c>AddModel&lt;TIn, TOut&gt;</c>).</exception>
    public ModelBuilder UseBatching(Action<BatchingOptions>? configure = null)
    {
        if (!Registration.IsTyped)
        {
            throw new InvalidOperationException($"Model '{Name}' was registered without input and output types; batching needs AddModel<TInput, TOutput>(...).");
        }

        Registration.UseBatching = true;
        var options = Services.AddOptions<BatchingOptions>(Name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BatchingOptions>, BatchingOptionsValidator>());
        return this;
    }

    /// <summary>
    /// Answers with <paramref name="fallback"/> when the model cannot: it failed on a valid input
    /// (<see cref="ModelInferenceException"/>), missed the deadline, its queue is full, or it is not loaded. Invalid
    /// input is never sent to the fallback. Counted as outcome <c>fallback</c> in the metrics.
    /// </summary>
    /// <typeparam name="TInput">The model's input type.</typeparam>
    /// <typeparam name="TOutput">The model's output type.</typeparam>
    /// <param name="fallback">Computes an answer from the input and the error (e.g. a rule-based default).</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="fallback"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The types differ from the model's registration.</exception>
    public ModelBuilder UseFallback<TInput, TOutput>(Func<TInput, Exception, CancellationToken, ValueTask<TOutput>> fallback)
    {
        ArgumentNullException.ThrowIfNull(fallback);
        if (Registration.InputType != typeof(TInput) || Registration.OutputType != typeof(TOutput))
        {
            throw new InvalidOperationException($"Model '{Name}' is registered as AddModel<{Registration.InputType?.Name}, {Registration.OutputType?.Name}>; its fallback must use the same types.");
        }

        Registration.FallbackDelegate = fallback;
        return this;
    }

    /// <summary>Answers with another registered model (same input and output types) when this one cannot (see the other overload).</summary>
    /// <param name="modelName">The fallback model's name.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="modelName"/> is empty or this model's own name.</exception>
    public ModelBuilder UseFallback(string modelName)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelName);
        if (modelName == Name)
        {
            throw new ArgumentException($"Model '{Name}' cannot be its own fallback.", nameof(modelName));
        }

        Registration.FallbackModel = modelName;
        return this;
    }

    /// <summary>
    /// Answers repeated inputs from an LRU cache in front of the batcher: key = 128-bit hash of the input's content
    /// and the model version, entry and byte budgets, optional TTL, single-flight for identical concurrent requests,
    /// and a private copy for every caller. Off by default. See docs/caching.md.
    /// </summary>
    /// <param name="configure">Adjusts the caching options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The model was registered without C# types.</exception>
    public ModelBuilder UseCaching(Action<CachingOptions>? configure = null)
    {
        if (!Registration.IsTyped)
        {
            throw new InvalidOperationException($"Model '{Name}' was registered without input and output types; caching needs AddModel<TInput, TOutput>(...).");
        }

        Registration.UseCaching = true;
        var options = Services.AddOptions<CachingOptions>(Name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CachingOptions>, CachingOptionsValidator>());
        return this;
    }
}
