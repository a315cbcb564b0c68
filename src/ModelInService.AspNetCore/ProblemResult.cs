using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.AspNetCore;

/// <summary>
/// The library's ProblemDetails answer. Written by the app's <see cref="IProblemDetailsService"/> when it has one
/// (<c>AddProblemDetails</c>: its customizations apply), else serialized with the library's own source-generated
/// metadata (<see cref="ProblemJsonContext"/>), never the app's JSON options: a Native AOT app whose context lists only
/// its own types (samples/AotApi) answered every problem with a 500 (<c>NotSupportedException: JsonTypeInfo metadata
/// for type ProblemDetails was not provided</c>), found by an outside probe of the docs.
/// </summary>
internal sealed class ProblemResult : IResult, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<ProblemDetails>, IContentTypeHttpResult
{
    private ProblemResult(ProblemDetails problem) => ProblemDetails = problem;

    /// <summary>Gets the problem.</summary>
    public ProblemDetails ProblemDetails { get; }

    public int? StatusCode => ProblemDetails.Status;

    public string ContentType => "application/problem+json";

    object? IValueHttpResult.Value => ProblemDetails;

    ProblemDetails? IValueHttpResult<ProblemDetails>.Value => ProblemDetails;

    /// <summary>The answer of <paramref name="problem"/> (its status defaults to 500).</summary>
    public static ProblemResult For(ProblemDetails problem) => new(problem);

    /// <summary>A problem with the framework's defaults for <paramref name="statusCode"/> (its type link).</summary>
    public static ProblemResult For(int statusCode, string title, string detail) =>
        new(TypedResults.Problem(statusCode: statusCode, title: title, detail: detail).ProblemDetails);

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var status = ProblemDetails.Status ?? StatusCodes.Status500InternalServerError;
        httpContext.Response.StatusCode = status;
        if (httpContext.RequestServices.GetService<IProblemDetailsService>() is { } service)
        {
            try
            {
                if (await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = ProblemDetails }).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (NotSupportedException) when (!httpContext.Response.HasStarted)
            {
                // The app's JSON metadata lacks a type of the problem (an extension value under Native AOT): ours has it.
                httpContext.Response.StatusCode = status;
            }
        }

        httpContext.Response.ContentType = ContentType;
        if (ProblemDetails is HttpValidationProblemDetails validation)
        {
            await JsonSerializer.SerializeAsync(httpContext.Response.Body, validation, ProblemJsonContext.Default.HttpValidationProblemDetails, httpContext.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            await JsonSerializer.SerializeAsync(httpContext.Response.Body, ProblemDetails, ProblemJsonContext.Default.ProblemDetails, httpContext.RequestAborted).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// The library's JSON metadata for its problems: ProblemDetails, HttpValidationProblemDetails and every type it puts in
/// their extensions (strings, numbers, the list of missing members).
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(HttpValidationProblemDetails))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class ProblemJsonContext : JsonSerializerContext;
