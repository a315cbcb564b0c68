using ModelInService.Schema;
using System.Diagnostics.CodeAnalysis;
namespace ModelInService;

/// <summary>Adds typed pre- and post-processing around a registered model.</summary>
public static class PipelineBuilderExtensions
{
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
    /// <param name="builder">The model builder.</param>
    /// <param name="preprocess">Turns a request into the model's input.</param>
    /// <param name="postprocess">Builds the response from the request and the model's output.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException">A step is null.</exception>
    /// <exception cref="InvalidOperationException">The steps do not fit the model's types, or the model already has a pipeline.</exception>
    public static ModelBuilder WithPipeline<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TRequest, TInput, TOutput, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TResponse>(this ModelBuilder builder, Func<TRequest, TInput> preprocess, Func<TRequest, TOutput, TResponse> postprocess)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(preprocess);
        ArgumentNullException.ThrowIfNull(postprocess);
        Pipelines.Register<TRequest, TInput, TOutput, TResponse>(builder, (request, _) => new ValueTask<TInput>(preprocess(request)), postprocess);
        return builder;
    }

    /// <summary>
    /// Like <see cref="WithPipeline{TRequest, TInput, TOutput, TResponse}(ModelBuilder, Func{TRequest, TInput}, Func{TRequest, TOutput, TResponse})"/>,
    /// with an asynchronous pre-processing step (e.g. a feature-store lookup).
    /// </summary>
    /// <typeparam name="TRequest">What callers send.</typeparam>
    /// <typeparam name="TInput">The model's input type (as registered).</typeparam>
    /// <typeparam name="TOutput">The model's output type (as registered).</typeparam>
    /// <typeparam name="TResponse">What callers receive.</typeparam>
    /// <param name="builder">The model builder.</param>
    /// <param name="preprocess">Turns a request into the model's input; receives the caller's cancellation token.</param>
    /// <param name="postprocess">Builds the response from the request and the model's output.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException">A step is null.</exception>
    /// <exception cref="InvalidOperationException">The steps do not fit the model's types, or the model already has a pipeline.</exception>
    public static ModelBuilder WithPipeline<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TRequest, TInput, TOutput, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TResponse>(this ModelBuilder builder, Func<TRequest, CancellationToken, ValueTask<TInput>> preprocess, Func<TRequest, TOutput, TResponse> postprocess)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(preprocess);
        ArgumentNullException.ThrowIfNull(postprocess);
        Pipelines.Register(builder, preprocess, postprocess);
        return builder;
    }
}
