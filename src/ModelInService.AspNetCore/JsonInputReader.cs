using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace ModelInService.AspNetCore;

/// <summary>
/// Reads a predict endpoint's body: checks the media type and charset, reads the body once into a pooled buffer
/// (an array's rows are found and counted by a forward-only reader while the body arrives, so one row more than
/// allowed answers 413 without reading the rest), checks the UTF-8 once, checks that every required input member is
/// present and only then deserializes each row straight from its bytes. Nothing else is materialised: members the model
/// does not read are skipped, never parsed into a document (a document costs about 12 bytes per JSON value, so a
/// 29 MB body of ignored numbers took 250 MB). Errors are problem results, never exceptions.
/// </summary>
/// <typeparam name="T">The model's input type.</typeparam>
internal sealed class JsonInputReader<T>
{
    private readonly JsonSerializerOptions json;
    private readonly JsonTypeInfo<T> typeInfo;
    private readonly JsonReaderOptions readerOptions;
    private readonly string[] required;
    private readonly int longestRequired;
    private readonly bool caseInsensitive;

    public JsonInputReader(JsonSerializerOptions json)
    {
        this.json = json;
        typeInfo = (JsonTypeInfo<T>)json.GetTypeInfo(typeof(T));
        readerOptions = new JsonReaderOptions
        {
            AllowTrailingCommas = json.AllowTrailingCommas,
            CommentHandling = json.ReadCommentHandling == JsonCommentHandling.Allow ? JsonCommentHandling.Skip : json.ReadCommentHandling,
            MaxDepth = json.MaxDepth,
        };
        required = RequiredMembers(typeInfo);
        foreach (var name in required)
        {
            longestRequired = Math.Max(longestRequired, name.Length);
        }

        caseInsensitive = json.PropertyNameCaseInsensitive;
    }

    /// <summary>Gets the JSON names of the members a body must contain, in declaration order.</summary>
    public IReadOnlyList<string> Required => required;

    /// <summary>Reads one input.</summary>
    public async Task<(T? Value, IResult? Error)> ReadOneAsync(HttpContext context, string modelName)
    {
        if (CheckMediaType(context.Request) is { } unsupported)
        {
            return (default, unsupported);
        }

        PooledBody? body = null;
        try
        {
            body = new PooledBody(context.Request);
            if (await ReadBodyAsync(context, modelName, body, rows: null, maxRows: 0).ConfigureAwait(false) is { } refused)
            {
                return (default, refused);
            }

            return Convert(body.Json, -1, context, modelName);
        }
        catch (Exception ex) when (ReadFailure(ex, context, modelName) is { } error)
        {
            return (default, error);
        }
        finally
        {
            body?.Dispose();
        }
    }

    /// <summary>
    /// Reads a JSON array of inputs, at most <paramref name="maxRows"/>: the rows are found and counted while the body
    /// arrives, and one row more answers 413 without reading the rest or deserializing any row.
    /// </summary>
    public async Task<(List<T>? Values, IResult? Error)> ReadManyAsync(HttpContext context, string modelName, int maxRows)
    {
        if (CheckMediaType(context.Request) is { } unsupported)
        {
            return (null, unsupported);
        }

        PooledBody? body = null;
        try
        {
            body = new PooledBody(context.Request);
            var rows = new RowFinder(readerOptions);
            if (await ReadBodyAsync(context, modelName, body, rows, maxRows).ConfigureAwait(false) is { } refused)
            {
                return (null, refused);
            }

            var json = body.Json;
            var values = new List<T>(rows.Count);
            for (var i = 0; i < rows.Count; i++)
            {
                var (start, length) = rows[i];
                var (value, error) = Convert(json.Slice(start, length), i, context, modelName);
                if (error is not null)
                {
                    return (null, error);
                }

                values.Add(value!);
            }

            return (values, null);
        }
        catch (Exception ex) when (ReadFailure(ex, context, modelName) is { } error)
        {
            return (null, error);
        }
        finally
        {
            body?.Dispose();
        }
    }

    /// <summary>
    /// Reads the whole body into <paramref name="body"/>: an object for one input (<paramref name="rows"/> null), an
    /// array whose rows <paramref name="rows"/> finds and counts as they arrive. Refuses the body as soon as its first
    /// byte shows the wrong kind, at row <paramref name="maxRows"/> + 1, or when it is not UTF-8; null when it is read.
    /// </summary>
    private static async Task<IResult?> ReadBodyAsync(HttpContext context, string modelName, PooledBody body, RowFinder? rows, int maxRows)
    {
        var (open, kind) = rows is null ? ('{', "object") : ('[', "array");
        var reader = context.Request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
            body.Append(read.Buffer);
            reader.AdvanceTo(read.Buffer.End);
            var first = body.FirstSignificant(read.IsCompleted);
            if (first >= 0 && first != open)
            {
                return InvalidJson(first is 0 or 'n'
                    ? $"The request body is empty or null; send a JSON {kind}."
                    : rows is null
                        ? "The request body is not a JSON object; send one object (MapPredictBatch takes arrays)."
                        : "The request body is not a JSON array; send an array of objects.", context, modelName);
            }

            if (rows is not null && first >= 0)
            {
                rows.Scan(body.Json, read.IsCompleted, maxRows);
                if (rows.Count > maxRows)
                {
                    return TooManyRows(maxRows, context, modelName);
                }
            }

            if (read.IsCompleted)
            {
                break;
            }
        }

        return Utf8.IsValid(body.Json) ? null : InvalidJson("The body is not valid UTF-8.", context, modelName);
    }

    /// <summary>The 415 answer for a body that is not JSON or not UTF-8; null when the request is fine.</summary>
    internal static ProblemHttpResultFactory.Result? CheckMediaType(HttpRequest request)
    {
        if (!request.HasJsonContentType())
        {
            return ProblemHttpResultFactory.Create(
                StatusCodes.Status415UnsupportedMediaType,
                "Unsupported media type",
                "Send the input as JSON with Content-Type: application/json.",
                context: null);
        }

        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            && mediaType.Charset is { Length: > 0 } charset
            && !IsUtf8(HeaderUtilities.RemoveQuotes(charset)))
        {
            return ProblemHttpResultFactory.Create(
                StatusCodes.Status415UnsupportedMediaType,
                "Unsupported charset",
                "Send the JSON as UTF-8: Content-Type: application/json or application/json; charset=utf-8.",
                context: null);
        }

        return null;
    }

    private static bool IsUtf8(StringSegment charset) =>
        charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// One row from its bytes: a forward-only pass checks the JSON and which required members are present (values of
    /// other members are skipped, not parsed), then the serializer reads the row from the same bytes.
    /// </summary>
    private (T? Value, IResult? Error) Convert(ReadOnlySpan<byte> json, int index, HttpContext context, string modelName)
    {
        try
        {
            var reader = new Utf8JsonReader(json, readerOptions);
            if (!reader.Read() || reader.TokenType == JsonTokenType.Null)
            {
                return (default, InvalidJson(index < 0
                    ? "The request body is empty or null; send a JSON object."
                    : $"Item {index} is null; send a JSON object.", context, modelName, index));
            }

            if (reader.TokenType == JsonTokenType.StartObject && Missing(ref reader) is { } missing)
            {
                return (default, MissingMembers(missing, index, context, modelName));
            }

            var value = JsonSerializer.Deserialize(json, typeInfo);
            return value is null ? (default, InvalidJson("The input is null; send a JSON object.", context, modelName, index)) : (value, null);
        }
        catch (JsonException ex)
        {
            // The reader's and the serializer's messages name the JSON path and position, never the payload.
            return (default, InvalidJson(index < 0 ? ex.Message : $"Item {index}: {ex.Message}", context, modelName, index));
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate in a string the serializer reads: not a server error.
            return (default, InvalidJson(index < 0 ? "The body is not valid UTF-8." : $"Item {index} is not valid UTF-8.", context, modelName, index));
        }
    }

    /// <summary>
    /// The required members absent from the object whose start <paramref name="reader"/> is on, or null; reads to the
    /// end of the object and checks that nothing follows it.
    /// </summary>
    private List<string>? Missing(ref Utf8JsonReader reader)
    {
        var found = required.Length <= 128 ? stackalloc bool[required.Length] : new bool[required.Length];

        // A name whose escaped bytes outnumber this cannot be a required one (an escape is at most 6 bytes per char);
        // shorter ones are unescaped into this buffer for the case-insensitive comparison, never into a string.
        var longest = (6 * longestRequired) + 8;
        var name = longest <= 512 ? stackalloc char[longest] : new char[longest];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueSpan.Length <= longest)
            {
                if (!caseInsensitive)
                {
                    for (var i = 0; i < required.Length; i++)
                    {
                        if (!found[i] && reader.ValueTextEquals(required[i]))
                        {
                            found[i] = true;
                            break;
                        }
                    }
                }
                else
                {
                    var text = name[..reader.CopyString(name)];
                    for (var i = 0; i < required.Length; i++)
                    {
                        if (!found[i] && text.Equals(required[i], StringComparison.OrdinalIgnoreCase))
                        {
                            found[i] = true;
                            break;
                        }
                    }
                }
            }

            reader.Read();
            reader.Skip();
        }

        while (reader.Read())
        {
            // Nothing may follow the object; the reader itself throws on anything but blanks (and comments if allowed).
        }

        List<string>? missing = null;
        for (var i = 0; i < required.Length; i++)
        {
            if (!found[i])
            {
                (missing ??= []).Add(required[i]);
            }
        }

        return missing;
    }

    private static HttpValidationProblemDetails MissingProblem(List<string> missing, int index)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var name in missing)
        {
            errors[name] = [$"The required member '{name}' is missing."];
        }

        var where = index < 0 ? "The input" : $"Item {index}";
        return new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "Missing input members",
            Detail = $"{where} lacks {string.Join(", ", missing)}. Every input member is required (names as in the JSON schema of the endpoint); a member marked [ModelInput(Optional = true)] may be left out.",
            Type = "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.1",
        };
    }

    private static ProblemResult MissingMembers(List<string> missing, int index, HttpContext context, string modelName)
    {
        var problem = MissingProblem(missing, index);
        problem.Extensions["missing"] = missing;
        if (index >= 0)
        {
            problem.Extensions["index"] = index;
        }

        ProblemHttpResultFactory.Decorate(problem, context, modelName);
        return ProblemResult.For(problem);
    }

    private static ProblemResult TooManyRows(int maxRows, HttpContext context, string modelName)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status413PayloadTooLarge,
            Title = "Too many rows",
            Detail = $"A batch holds at most {maxRows} rows; send the rows in several requests.",
            Type = "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.14",
        };
        problem.Extensions["maxRows"] = maxRows;
        ProblemHttpResultFactory.Decorate(problem, context, modelName);

        // The rest of the body is not read: over HTTP/1.1 ask the client not to reuse the connection for a half-sent
        // body (HTTP/2 and 3 have no connection header; the stream is reset by the server instead).
        if (HttpProtocol.IsHttp11(context.Request.Protocol))
        {
            context.Response.Headers.Connection = "close";
        }
        return ProblemResult.For(problem);
    }

    private static IResult? ReadFailure(Exception exception, HttpContext context, string modelName) => exception switch
    {
        JsonException json => InvalidJson(json.Message, context, modelName),
        BadHttpRequestException bad => ProblemResult.For(ModelProblems.BadRequest(bad, context)),
        OperationCanceledException when context.RequestAborted.IsCancellationRequested => TypedResults.StatusCode(ModelProblems.ClientClosedRequest),
        _ => null,
    };

    private static ProblemResult InvalidJson(string detail, HttpContext context, string modelName, int index = -1)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "Invalid JSON",
            Detail = detail,
            Type = "https://datatracker.ietf.org/doc/html/rfc9110#section-15.5.1",
        };
        if (index >= 0)
        {
            problem.Extensions["index"] = index;
        }

        ProblemHttpResultFactory.Decorate(problem, context, modelName);
        return ProblemResult.For(problem);
    }

    /// <summary>
    /// The JSON names of the input members a body must contain: every member the binder maps (public, not
    /// <see cref="ModelIgnoreAttribute"/>) that JSON can set, unless <see cref="ModelInputAttribute.Optional"/>.
    /// </summary>
    internal static string[] RequiredMembers(JsonTypeInfo info) => [.. RequiredProperties(info, onlyAnnotatedTypes: false).Select(p => p.Name)];

    /// <summary>The properties of <paramref name="info"/> that are required input members (see <see cref="RequiredMembers"/>).</summary>
    /// <param name="info">The type's contract.</param>
    /// <param name="onlyAnnotatedTypes">Whether a type without any <see cref="ModelInputAttribute"/> has none (it may not be a model input at all).</param>
    internal static List<JsonPropertyInfo> RequiredProperties(JsonTypeInfo info, bool onlyAnnotatedTypes)
    {
        var result = new List<JsonPropertyInfo>();
        if (info.Kind != JsonTypeInfoKind.Object)
        {
            return result;
        }

        // Positional records carry [ModelInput] on the constructor parameter: read it through the contract's associated
        // parameter (no reflection over the type's constructors, so the contract alone is enough under trimming).
        var parameterAttributes = new Dictionary<string, ModelInputAttribute>(StringComparer.Ordinal);
        foreach (var property in info.Properties)
        {
            if (property.AssociatedParameter?.AttributeProvider is ParameterInfo { Name: { } name } parameter
                && parameter.GetCustomAttribute<ModelInputAttribute>() is { } attribute)
            {
                parameterAttributes.TryAdd(name, attribute);
            }
        }

        var annotated = parameterAttributes.Count > 0;
        foreach (var property in info.Properties)
        {
            if (property.IsExtensionData || (property.Set is null && property.AssociatedParameter is null)
                || property.AttributeProvider is not MemberInfo member
                || member.IsDefined(typeof(ModelIgnoreAttribute), true)
                || (member is PropertyInfo p && p.GetMethod is not { IsPublic: true }))
            {
                continue;
            }

            var input = member.GetCustomAttribute<ModelInputAttribute>(true) ?? parameterAttributes.GetValueOrDefault(member.Name);
            annotated |= input is not null;
            if (input?.Optional != true)
            {
                result.Add(property);
            }
        }

        if (onlyAnnotatedTypes && !annotated)
        {
            result.Clear();
        }

        return result;
    }
}

/// <summary>Builds problem results with the model and trace extensions every problem of this library carries.</summary>
internal static class ProblemHttpResultFactory
{
    /// <summary>A problem result.</summary>
    internal sealed class Result(ProblemDetails problem) : IResult
    {
        public ProblemDetails Problem { get; } = problem;

        public Task ExecuteAsync(HttpContext httpContext)
        {
            Decorate(Problem, httpContext, null);
            return ProblemResult.For(Problem).ExecuteAsync(httpContext);
        }
    }

    public static Result Create(int status, string title, string detail, HttpContext? context)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (context is not null)
        {
            Decorate(problem, context, null);
        }

        return new Result(problem);
    }

    public static void Decorate(ProblemDetails problem, HttpContext context, string? modelName)
    {
        if (modelName is not null)
        {
            problem.Extensions["model"] = modelName;
        }

        if (!problem.Extensions.ContainsKey("traceId"))
        {
            problem.Extensions["traceId"] = System.Diagnostics.Activity.Current?.Id ?? context.TraceIdentifier;
        }
    }
}
