using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace ModelInService.AspNetCore;

/// <summary>
/// The one mapping of model exceptions to HTTP answers, shared by the predict endpoints, the MVC filter and the
/// exception handler so that every surface answers the same status, title and headers.
/// </summary>
internal static class ModelProblems
{
    /// <summary>Status 499 (nginx's "client closed request"): nobody reads it, but logs and metrics show why the request ended.</summary>
    public const int ClientClosedRequest = 499;

    private const string TypeBase = "https://datatracker.ietf.org/doc/html/rfc9110#section-15.";

    /// <summary>Maps a model exception to a problem; null for any other exception (it is not ours to answer).</summary>
    /// <param name="exception">The exception.</param>
    /// <param name="context">The request; the Retry-After header is set on its response for 429.</param>
    /// <returns>The problem, with <see cref="ProblemDetails.Status"/> set, or null.</returns>
    public static ProblemDetails? TryCreate(Exception exception, HttpContext context)
    {
        ProblemDetails? problem = exception switch
        {
            ModelInputException input => Input(input),
            ModelOverloadedException overloaded => Overloaded(overloaded, context),
            ModelNotReadyException notReady => Create(StatusCodes.Status503ServiceUnavailable, "Model not ready", notReady.Message, "6.6.4"),
            // Its message names the file and ONNX Runtime's version and words: logged where it happened (1002, 1008,
            // 1024), never answered (docs/security.md: no file paths in answers).
            ModelLoadException load => Create(StatusCodes.Status503ServiceUnavailable, "Model not available", $"Model '{load.ModelName}' could not be loaded; the reason is in the server's log.", "6.6.4"),
            ModelDeadlineExceededException deadline => Deadline(deadline),
            ModelNonFiniteOutputException nonFinite => NonFinite(nonFinite),
            ModelStreamLimitException limit => StreamLimit(limit),
            ModelStreamClosedException closed => StreamClosed(closed),
            ModelInferenceException inference => Create(StatusCodes.Status500InternalServerError, "Model inference failed", inference.Message, "6.6.1"),
            BadHttpRequestException bad => BadRequest(bad, context),
            _ => null,
        };
        if (problem is null)
        {
            return null;
        }

        if (exception is ModelException model)
        {
            problem.Extensions["model"] = model.ModelName;
        }

        problem.Extensions["traceId"] = Activity.Current?.Id ?? context.TraceIdentifier;
        return problem;
    }

    /// <summary>
    /// The answer to a request the server could not read (body over the size limit: 413, malformed request or JSON
    /// the framework could not bind: 400, body too slow: 408): the exception's own status, as a problem.
    /// </summary>
    /// <param name="exception">The framework's exception; its message names the limit or parameter, never the payload.</param>
    /// <param name="context">The request.</param>
    /// <returns>The problem.</returns>
    public static ProblemDetails BadRequest(BadHttpRequestException exception, HttpContext context)
    {
        var status = exception.StatusCode is >= 400 and < 500 ? exception.StatusCode : StatusCodes.Status400BadRequest;
        var title = ReasonPhrases.GetReasonPhrase(status);
        var problem = Create(status, title.Length == 0 ? "Bad request" : title, exception.Message, status switch
        {
            StatusCodes.Status408RequestTimeout => "5.9",
            StatusCodes.Status413PayloadTooLarge => "5.14",
            StatusCodes.Status400BadRequest => "5.1",
            _ => null,
        });
        problem.Extensions["traceId"] = Activity.Current?.Id ?? context.TraceIdentifier;
        return problem;
    }

    /// <summary>The core's refusal of a non-finite output: the same 500 problem as the JSON layer's, naming the member.</summary>
    private static ProblemDetails NonFinite(ModelNonFiniteOutputException exception)
    {
        var problem = Create(StatusCodes.Status500InternalServerError, "Model produced a non-finite value", exception.Message, "6.6.1");
        problem.Extensions["member"] = exception.MemberName;
        if (exception.Index >= 0)
        {
            problem.Extensions["index"] = exception.Index;
        }

        return problem;
    }

    /// <summary>The answer to an output that JSON cannot carry: a non-finite number where the JSON options do not allow named literals.</summary>
    /// <param name="modelName">The model.</param>
    /// <param name="path">Where the value is, e.g. <c>probabilities[1]</c>.</param>
    /// <param name="value">The value (NaN or an infinity).</param>
    /// <param name="index">The batch item, or -1.</param>
    /// <param name="context">The request.</param>
    /// <returns>The problem (500).</returns>
    public static ProblemDetails NonFiniteOutput(string modelName, string path, double value, int index, HttpContext context)
    {
        var what = double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
        var item = index < 0 ? string.Empty : $" for item {index}";
        var problem = Create(
            StatusCodes.Status500InternalServerError,
            "Model produced a non-finite value",
            $"The model produced {what} in output member '{path}'{item}; the input is likely outside the range the model was trained on. JSON cannot carry it.",
            "6.6.1");
        problem.Extensions["model"] = modelName;
        problem.Extensions["member"] = path;
        if (index >= 0)
        {
            problem.Extensions["index"] = index;
        }

        problem.Extensions["traceId"] = Activity.Current?.Id ?? context.TraceIdentifier;
        return problem;
    }

    private static HttpValidationProblemDetails Input(ModelInputException ex)
    {
        var member = ex.MemberName ?? "input";
        var problem = new HttpValidationProblemDetails(new Dictionary<string, string[]>(StringComparer.Ordinal) { [member] = [ex.Reason] })
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "Invalid input",
            Detail = ex.Message,
            Type = TypeBase + "5.1",
        };
        problem.Extensions["member"] = ex.MemberName;
        if (ex.Index >= 0)
        {
            problem.Extensions["index"] = ex.Index;
        }

        return problem;
    }

    private static ProblemDetails Overloaded(ModelOverloadedException ex, HttpContext context)
    {
        // Whole seconds (RFC 9110 delay-seconds), at least 1 so that clients do not retry in a tight loop.
        var seconds = (long)Math.Max(1, Math.Ceiling(ex.RetryAfter.TotalSeconds));
        context.Response.Headers[HeaderNames.RetryAfter] = seconds.ToString(CultureInfo.InvariantCulture);
        var problem = Create(StatusCodes.Status429TooManyRequests, "Model overloaded", ex.Message, null);
        problem.Type = "https://datatracker.ietf.org/doc/html/rfc6585#section-4";
        problem.Extensions["retryAfterSeconds"] = seconds;
        return problem;
    }

    /// <summary>Every stream place is taken: 503, the server's capacity, not the caller's fault (no Retry-After: a place frees when a stream closes or expires, not at a known time).</summary>
    private static ProblemDetails StreamLimit(ModelStreamLimitException ex)
    {
        var problem = Create(StatusCodes.Status503ServiceUnavailable, "Model stream limit reached", ex.Message, "6.6.4");
        problem.Extensions["maxStreams"] = ex.MaxStreams;
        return problem;
    }

    /// <summary>The stream was closed or expired: 410, its state is gone for good and the client opens a new stream.</summary>
    private static ProblemDetails StreamClosed(ModelStreamClosedException ex)
    {
        var problem = Create(StatusCodes.Status410Gone, ex.Expired ? "Model stream expired" : "Model stream closed", ex.Message, "5.11");
        problem.Extensions["streamId"] = ex.StreamId;
        problem.Extensions["expired"] = ex.Expired;
        return problem;
    }

    private static ProblemDetails Deadline(ModelDeadlineExceededException ex)
    {
        var problem = Create(StatusCodes.Status504GatewayTimeout, "Model deadline exceeded", ex.Message, "6.6.5");
        problem.Extensions["timeoutMs"] = ex.Timeout.TotalMilliseconds;
        return problem;
    }

    private static ProblemDetails Create(int status, string title, string detail, string? section) => new()
    {
        Status = status,
        Title = title,
        Detail = detail,
        Type = section is null ? null : TypeBase + section,
    };
}
