using System.Buffers;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace ModelInService.AspNetCore;

/// <summary>
/// Reads a predict endpoint's body: checks the media type and charset, parses the JSON (one object, or an array
/// streamed element by element and counted while it is read), checks that every required input member is present
/// and only then deserializes the rows. Errors are problem results, never exceptions.
/// </summary>
/// <typeparam name="T">The model's input type.</typeparam>
internal sealed class JsonInputReader<T>
{
    private readonly JsonSerializerOptions json;
    private readonly JsonTypeInfo<T> typeInfo;
    private readonly JsonTypeInfo<JsonElement> elementInfo;
    private readonly JsonDocumentOptions documentOptions;
    private readonly string[] required;
    private readonly bool caseInsensitive;

    public JsonInputReader(JsonSerializerOptions json)
    {
        this.json = json;
        typeInfo = (JsonTypeInfo<T>)json.GetTypeInfo(typeof(T));
        elementInfo = ElementInfo(json);
        documentOptions = new JsonDocumentOptions
        {
            AllowTrailingCommas = json.AllowTrailingCommas,
            CommentHandling = json.ReadCommentHandling,
            MaxDepth = json.MaxDepth,
        };
        required = RequiredMembers(typeInfo);
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

        try
        {
            // Anything but an object is refused before the body is parsed into a document (a 30 MB array would be).
            var first = await PeekAsync(context.Request).ConfigureAwait(false);
            if (first != (byte)'{')
            {
                return (default, InvalidJson(first is 0 or (byte)'n'
                    ? "The request body is empty or null; send a JSON object."
                    : "The request body is not a JSON object; send one object (MapPredictBatch takes arrays)."));
            }

            using var document = await JsonDocument.ParseAsync(Body(context.Request), documentOptions, context.RequestAborted).ConfigureAwait(false);
            return Convert(document.RootElement, -1, context, modelName);
        }
        catch (Exception ex) when (ReadFailure(ex, context) is { } error)
        {
            return (default, error);
        }
    }

    /// <summary>
    /// Reads a JSON array of inputs, at most <paramref name="maxRows"/>: the rows are counted as the array is read,
    /// and one row more answers 413 without reading the rest or deserializing any row.
    /// </summary>
    public async Task<(List<T>? Values, IResult? Error)> ReadManyAsync(HttpContext context, string modelName, int maxRows)
    {
        if (CheckMediaType(context.Request) is { } unsupported)
        {
            return (null, unsupported);
        }

        var elements = new List<JsonElement>(Math.Min(maxRows, 64));
        try
        {
            var first = await PeekAsync(context.Request).ConfigureAwait(false);
            if (first != (byte)'[')
            {
                return (null, InvalidJson(first is 0 or (byte)'n'
                    ? "The request body is empty or null; send a JSON array."
                    : "The request body is not a JSON array; send an array of objects."));
            }

            await foreach (var element in JsonSerializer.DeserializeAsyncEnumerable(Body(context.Request), elementInfo, context.RequestAborted).ConfigureAwait(false))
            {
                if (elements.Count == maxRows)
                {
                    return (null, TooManyRows(maxRows, context, modelName));
                }

                elements.Add(element);
            }
        }
        catch (Exception ex) when (ReadFailure(ex, context) is { } error)
        {
            return (null, error);
        }

        var values = new List<T>(elements.Count);
        for (var i = 0; i < elements.Count; i++)
        {
            var (value, error) = Convert(elements[i], i, context, modelName);
            if (error is not null)
            {
                return (null, error);
            }

            values.Add(value!);
        }

        return (values, null);
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

    /// <summary>The body through its pipe: the peek at its first bytes and the parser read the same buffer.</summary>
    private static Stream Body(HttpRequest request) => request.BodyReader.AsStream(leaveOpen: true);

    private static bool IsUtf8(StringSegment charset) =>
        charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Peeks at the body's first byte that is not blank (nor a UTF-8 byte order mark) without consuming anything: 0 for
    /// an empty body. It tells an object from an array or a bare <c>null</c> before anything is parsed.
    /// </summary>
    private static async Task<byte> PeekAsync(HttpRequest request)
    {
        var reader = request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(request.HttpContext.RequestAborted).ConfigureAwait(false);
            var buffer = read.Buffer;
            var first = FirstSignificant(buffer, read.IsCompleted);
            if (first >= 0 || read.IsCompleted)
            {
                reader.AdvanceTo(buffer.Start, buffer.Start);
                return first >= 0 ? (byte)first : (byte)0;
            }

            // Only blanks (or the start of a byte order mark) so far: look at more of the body without consuming anything.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>The first byte after an optional byte order mark and blanks; -1 when more of the body is needed.</summary>
    private static int FirstSignificant(ReadOnlySequence<byte> buffer, bool complete)
    {
        ReadOnlySpan<byte> bom = [0xEF, 0xBB, 0xBF];
        Span<byte> head = stackalloc byte[3];
        var length = (int)Math.Min(3, buffer.Length);
        buffer.Slice(0, length).CopyTo(head);
        if (length < 3 && !complete && bom.StartsWith(head[..length]))
        {
            return -1;
        }

        var rest = length == 3 && head.SequenceEqual(bom) ? buffer.Slice(3) : buffer;
        foreach (var memory in rest)
        {
            foreach (var b in memory.Span)
            {
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
                {
                    return b;
                }
            }
        }

        return -1;
    }

    private (T? Value, IResult? Error) Convert(JsonElement element, int index, HttpContext context, string modelName)
    {
        if (element.ValueKind == JsonValueKind.Null)
        {
            return (default, InvalidJson(index < 0
                ? "The request body is empty or null; send a JSON object."
                : $"Item {index} is null; send a JSON object."));
        }

        try
        {
            if (element.ValueKind == JsonValueKind.Object && Missing(element) is { } missing)
            {
                return (default, MissingMembers(missing, index, context, modelName));
            }

            var value = element.Deserialize(typeInfo);
            return value is null ? (default, InvalidJson("The input is null; send a JSON object.")) : (value, null);
        }
        catch (JsonException ex)
        {
            // The serializer's message names the JSON path and position, never the payload.
            return (default, InvalidJson(index < 0 ? ex.Message : $"Item {index}: {ex.Message}", index));
        }
        catch (InvalidOperationException)
        {
            // The parser checks the UTF-8 of names and strings only when they are read (here): not a server error.
            return (default, InvalidJson(index < 0 ? "The body is not valid UTF-8." : $"Item {index} is not valid UTF-8.", index));
        }
    }

    private List<string>? Missing(JsonElement element)
    {
        if (required.Length == 0)
        {
            return null;
        }

        List<string>? missing = null;
        if (!caseInsensitive)
        {
            foreach (var name in required)
            {
                if (!element.TryGetProperty(name, out _))
                {
                    (missing ??= []).Add(name);
                }
            }

            return missing;
        }

        var found = required.Length <= 128 ? stackalloc bool[required.Length] : new bool[required.Length];
        var remaining = required.Length;
        foreach (var property in element.EnumerateObject())
        {
            for (var i = 0; i < required.Length; i++)
            {
                if (!found[i] && string.Equals(property.Name, required[i], StringComparison.OrdinalIgnoreCase))
                {
                    found[i] = true;
                    remaining--;
                    break;
                }
            }

            if (remaining == 0)
            {
                return null;
            }
        }

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

    private static ProblemHttpResult MissingMembers(List<string> missing, int index, HttpContext context, string modelName)
    {
        var problem = MissingProblem(missing, index);
        problem.Extensions["missing"] = missing;
        if (index >= 0)
        {
            problem.Extensions["index"] = index;
        }

        ProblemHttpResultFactory.Decorate(problem, context, modelName);
        return TypedResults.Problem(problem);
    }

    private static ProblemHttpResult TooManyRows(int maxRows, HttpContext context, string modelName)
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
        return TypedResults.Problem(problem);
    }

    private static IResult? ReadFailure(Exception exception, HttpContext context) => exception switch
    {
        JsonException json => InvalidJson(json.Message),
        BadHttpRequestException bad => TypedResults.Problem(ModelProblems.BadRequest(bad, context)),
        OperationCanceledException when context.RequestAborted.IsCancellationRequested => TypedResults.StatusCode(ModelProblems.ClientClosedRequest),
        _ => null,
    };

    private static ProblemHttpResult InvalidJson(string detail, int index = -1)
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

        return TypedResults.Problem(problem);
    }

    /// <summary>
    /// The JSON names of the input members a body must contain: every member the binder maps (public, not
    /// <see cref="ModelIgnoreAttribute"/>) that JSON can set, unless <see cref="ModelInputAttribute.Optional"/>.
    /// </summary>
    /// <summary>
    /// The contract for reading a batch's items as <see cref="JsonElement"/>s with the app's reader settings: from the
    /// app's resolver when it has one for JsonElement, otherwise from the library's source-generated context (a Native
    /// AOT app's resolver chain holds only the app's own types).
    /// </summary>
    private static JsonTypeInfo<JsonElement> ElementInfo(JsonSerializerOptions json)
    {
        if (json.TryGetTypeInfo(typeof(JsonElement), out var info))
        {
            return (JsonTypeInfo<JsonElement>)info;
        }

        var options = new JsonSerializerOptions(json);
        options.TypeInfoResolverChain.Add(ElementJsonContext.Default);
        return (JsonTypeInfo<JsonElement>)options.GetTypeInfo(typeof(JsonElement));
    }

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
            return TypedResults.Problem(Problem).ExecuteAsync(httpContext);
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

/// <summary>The library's own contract for <see cref="JsonElement"/> (batch items are read as elements first).</summary>
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class ElementJsonContext : JsonSerializerContext;
