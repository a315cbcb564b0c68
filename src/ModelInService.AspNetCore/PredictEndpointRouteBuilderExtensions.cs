using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace ModelInService.AspNetCore;

/// <summary>Maps prediction endpoints for registered models (minimal APIs).</summary>
/// <remarks>The endpoints are thread-safe; they resolve the predictor once, when mapped.</remarks>
public static class PredictEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST <paramref name="pattern"/></c>: reads one <typeparamref name="TInput"/> as JSON, calls
    /// <see cref="IPredictor{TInput, TOutput}.PredictAsync(TInput, CancellationToken)"/> with the request's abort token,
    /// and writes the <typeparamref name="TOutput"/> as JSON. Every input member is required (400 naming each missing
    /// one) unless marked <see cref="ModelInputAttribute.Optional"/>. Errors are ProblemDetails: 400 invalid JSON or input
    /// (naming the member), 413 body over the server's size limit, 415 not JSON or not UTF-8, 429 queue full (with Retry-After), 500 inference failed, 503 model not ready
    /// or shutting down, 504 deadline exceeded; a non-finite output the JSON options cannot write is a 500 problem saying so. OpenAPI metadata: accepted and produced types, every problem status,
    /// the model name as tag, and the endpoint name <c>Predict_{model}</c> (override it with <c>.WithName(...)</c>).
    /// </summary>
    /// <typeparam name="TInput">The model's input type.</typeparam>
    /// <typeparam name="TOutput">The model's output type.</typeparam>
    /// <param name="endpoints">The route builder (the <c>WebApplication</c> or a group).</param>
    /// <param name="pattern">The route pattern, e.g. <c>/predict/iris</c>.</param>
    /// <param name="modelName">The model's registered name for keyed models; null uses the un-keyed <see cref="IPredictor{TInput, TOutput}"/> (the first model registered for these types).</param>
    /// <returns>The endpoint's builder, for more conventions (<c>RequireAuthorization</c>, <c>RequireRateLimiting</c>, ...).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> or <paramref name="pattern"/> is null.</exception>
    /// <exception cref="InvalidOperationException">No model is registered for these types (and name).</exception>
    public static RouteHandlerBuilder MapPredict<TInput, TOutput>(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, string? modelName = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        var predictor = Resolve<TInput, TOutput>(endpoints.ServiceProvider, modelName);
        var json = JsonOptions(endpoints.ServiceProvider);
        var reader = new JsonInputReader<TInput>(json);
        var writer = new JsonOutputWriter<TOutput>(json);
        return endpoints.MapPost(pattern, Task<IResult> (HttpContext context) => PredictAsync(context, predictor, reader, writer))
            .WithMetadata(new ModelEndpointMetadata(predictor.ModelName))
            .Describe<TInput, TOutput>(predictor.ModelName, "Predict_" + predictor.ModelName, $"Predicts with model '{predictor.ModelName}'.");
    }

    /// <summary>
    /// Maps <c>POST <paramref name="pattern"/></c> for a JSON array of <typeparamref name="TInput"/>: one
    /// <see cref="IPredictor{TInput, TOutput}.PredictBatchAsync"/> call (many rows per run), answered with the array of
    /// outputs in the same order, streamed to the body. At most <see cref="PredictEndpointOptions.MaxBatchRows"/> rows:
    /// the rows are counted while the array is read, and one more is answered 413 before any row is deserialized or
    /// predicted. A 400 names the member and the item (<c>index</c>); other errors as
    /// <see cref="MapPredict{TInput, TOutput}"/>. Endpoint name <c>PredictBatch_{model}</c>.
    /// </summary>
    /// <typeparam name="TInput">The model's input type.</typeparam>
    /// <typeparam name="TOutput">The model's output type.</typeparam>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="pattern">The route pattern, e.g. <c>/predict/iris/batch</c>.</param>
    /// <param name="modelName">The model's registered name for keyed models; null uses the un-keyed predictor.</param>
    /// <returns>The endpoint's builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> or <paramref name="pattern"/> is null.</exception>
    /// <exception cref="InvalidOperationException">No model is registered for these types (and name).</exception>
    /// <exception cref="OptionsValidationException"><see cref="PredictEndpointOptions"/> are invalid.</exception>
    public static RouteHandlerBuilder MapPredictBatch<TInput, TOutput>(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern, string? modelName = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        var predictor = Resolve<TInput, TOutput>(endpoints.ServiceProvider, modelName);
        var json = JsonOptions(endpoints.ServiceProvider);
        var options = endpoints.ServiceProvider.GetService<IOptions<PredictEndpointOptions>>()?.Value ?? new PredictEndpointOptions();
        PredictEndpointOptionsValidator.ThrowIfInvalid(options);
        var maxRows = options.MaxBatchRows;
        var reader = new JsonInputReader<TInput>(json);
        var writer = new JsonOutputWriter<TOutput>(json);
        return endpoints.MapPost(pattern, Task<IResult> (HttpContext context) => PredictBatchAsync(context, predictor, reader, writer, maxRows))
            .WithMetadata(new ModelEndpointMetadata(predictor.ModelName))
            .Describe<TInput[], TOutput[]>(predictor.ModelName, "PredictBatch_" + predictor.ModelName, $"Predicts a batch with model '{predictor.ModelName}'.")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
    }

    private static RouteHandlerBuilder Describe<TRequest, TResponse>(this RouteHandlerBuilder builder, string model, string name, string summary) => builder
        .Accepts(typeof(TRequest), "application/json")
        .Produces<TResponse>(StatusCodes.Status200OK, "application/json")
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
        .ProducesProblem(StatusCodes.Status429TooManyRequests)
        .ProducesProblem(StatusCodes.Status500InternalServerError)
        .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
        .ProducesProblem(StatusCodes.Status504GatewayTimeout)
        .WithTags(model)
        .WithName(name)
        .WithSummary(summary);

    private static IPredictor<TInput, TOutput> Resolve<TInput, TOutput>(IServiceProvider services, string? modelName)
    {
        var predictor = modelName is null
            ? services.GetService<IPredictor<TInput, TOutput>>()
            : services.GetKeyedService<IPredictor<TInput, TOutput>>(modelName);
        return predictor ?? throw new InvalidOperationException(modelName is null
            ? $"No model is registered for {typeof(TInput).Name} -> {typeof(TOutput).Name}; call services.AddModel<{typeof(TInput).Name}, {typeof(TOutput).Name}>(...) first."
            : $"No model named '{modelName}' is registered for {typeof(TInput).Name} -> {typeof(TOutput).Name}; call services.AddModel<{typeof(TInput).Name}, {typeof(TOutput).Name}>(\"{modelName}\", ...) first.");
    }

    private static JsonSerializerOptions JsonOptions(IServiceProvider services) =>
        (services.GetService<IOptions<HttpJsonOptions>>()?.Value ?? new HttpJsonOptions()).SerializerOptions;

    private static async Task<IResult> PredictAsync<TInput, TOutput>(HttpContext context, IPredictor<TInput, TOutput> predictor, JsonInputReader<TInput> reader, JsonOutputWriter<TOutput> writer)
    {
        var (input, error) = await reader.ReadOneAsync(context, predictor.ModelName).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        try
        {
            var output = await predictor.PredictAsync(input!, context.RequestAborted).ConfigureAwait(false);
            return writer.One(output, predictor.ModelName);
        }
        catch (Exception ex) when (Map(ex, context) is { } result)
        {
            return result;
        }
    }

    private static async Task<IResult> PredictBatchAsync<TInput, TOutput>(HttpContext context, IPredictor<TInput, TOutput> predictor, JsonInputReader<TInput> reader, JsonOutputWriter<TOutput> writer, int maxRows)
    {
        var (inputs, error) = await reader.ReadManyAsync(context, predictor.ModelName, maxRows).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        try
        {
            var outputs = await predictor.PredictBatchAsync(inputs!, context.RequestAborted).ConfigureAwait(false);
            return writer.Many(outputs, predictor.ModelName);
        }
        catch (Exception ex) when (Map(ex, context) is { } result)
        {
            return result;
        }
    }

    private static IResult? Map(Exception exception, HttpContext context)
    {
        if (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            return TypedResults.StatusCode(ModelProblems.ClientClosedRequest);
        }

        return ModelProblems.TryCreate(exception, context) is { } problem ? ProblemResult.For(problem) : null;
    }
}

/// <summary>Endpoint metadata naming the model an endpoint serves.</summary>
/// <param name="ModelName">The registered model name.</param>
internal sealed record ModelEndpointMetadata(string ModelName);
