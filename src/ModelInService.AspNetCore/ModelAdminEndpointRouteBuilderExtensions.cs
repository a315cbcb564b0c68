using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.AspNetCore;

/// <summary>Options of <see cref="ModelAdminEndpointRouteBuilderExtensions.MapModelAdmin"/>.</summary>
/// <remarks>Read once, when the endpoints are mapped. Not thread-safe (configure it in the callback only).</remarks>
public sealed class ModelAdminEndpointOptions
{
    /// <summary>
    /// Gets or sets the authorization policy every admin endpoint requires (they replace the model that answers
    /// production traffic).
    /// </summary>
    /// <value>Default null: the application's default policy (an authenticated user), as <c>RequireAuthorization()</c>.</value>
    public string? AuthorizationPolicy { get; set; }

    /// <summary>
    /// Gets or sets whether the endpoints are open to anonymous callers. Set it only for a local or development
    /// environment; it takes precedence over <see cref="AuthorizationPolicy"/>.
    /// </summary>
    /// <value>Default false.</value>
    public bool AllowAnonymous { get; set; }

    /// <summary>
    /// Gets the candidate model of each model name that <c>POST {pattern}/{model}/canary</c> may start. Candidates
    /// come from configuration, never from a request: a caller chooses the share, not the file.
    /// </summary>
    /// <value>Empty by default (no canary can be started).</value>
    public IDictionary<string, ModelSource> Candidates { get; } = new Dictionary<string, ModelSource>(StringComparer.Ordinal);
}

/// <summary>Maps operations endpoints of registered models: version status and canary start, promote and stop.</summary>
public static class ModelAdminEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps, under <paramref name="pattern"/>, for every model with an <see cref="IModelManager"/>:
    /// <c>GET {pattern}/{model}</c> the serving, previous and candidate versions (version numbers, names, hashes and
    /// load times; never file paths), <c>POST {pattern}/{model}/canary</c> with <c>{"share":0.1}</c> starts a canary of
    /// the configured candidate (<see cref="ModelAdminEndpointOptions.Candidates"/>), <c>GET {pattern}/{model}/canary</c>
    /// its report, <c>POST {pattern}/{model}/canary/promote</c> makes it the serving version and
    /// <c>DELETE {pattern}/{model}/canary</c> stops it. Every endpoint requires authorization unless
    /// <see cref="ModelAdminEndpointOptions.AllowAnonymous"/> is set. Errors are ProblemDetails: 400 invalid share,
    /// 404 unknown model or no candidate, 409 the model is pinned or has no candidate to promote, 503 the candidate
    /// could not be loaded; 403 and 415 for a state-changing request another site's page could have sent through a
    /// browser (a cross-site <c>Sec-Fetch-Site</c> or <c>Origin</c>, a form's content type).
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="pattern">The route prefix.</param>
    /// <param name="configure">Sets the authorization policy and the candidates.</param>
    /// <returns>The group of admin endpoints, for more conventions (e.g. <c>RequireHost</c>, rate limiting).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> or <paramref name="pattern"/> is null.</exception>
    /// <exception cref="InvalidOperationException">Authorization is required but no authentication scheme (or no authorization service) is registered.</exception>
    public static RouteGroupBuilder MapModelAdmin(
        this IEndpointRouteBuilder endpoints,
        [StringSyntax("Route")] string pattern = "/models",
        Action<ModelAdminEndpointOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        var options = new ModelAdminEndpointOptions();
        configure?.Invoke(options);
        var candidates = new Dictionary<string, ModelSource>(options.Candidates, StringComparer.Ordinal);

        var group = endpoints.MapGroup(pattern).WithTags("Model admin");
        EndpointAuthorization.Require(group, endpoints.ServiceProvider, options.AuthorizationPolicy, options.AllowAnonymous, "model admin endpoints", nameof(ModelAdminEndpointOptions));
        group.RefuseCrossSiteWrites();

        group.MapGet("/{model}", (HttpContext context, string model) =>
            WithManager(context, model, manager => Task.FromResult<IResult>(Json(new ModelStatusDto
            {
                Model = manager.ModelName,
                Current = VersionDto.From(manager.Current),
                Previous = manager.Previous is { } previous ? VersionDto.From(previous) : null,
                Candidate = manager.Candidate is { } candidate ? CandidateDto.From(candidate) : null,
                Pinned = manager.IsPinned,
            }, ModelAdminJsonContext.Default.ModelStatusDto))));
        group.MapPost("/{model}/canary", (HttpContext context, string model) =>
            WithManager(context, model, async manager =>
            {
                if (!candidates.TryGetValue(model, out var source))
                {
                    return Problem(StatusCodes.Status404NotFound, "No candidate", $"No candidate is configured for model '{model}'.");
                }

                if (await ReadShareAsync(context).ConfigureAwait(false) is not { } share)
                {
                    return Problem(StatusCodes.Status400BadRequest, "Invalid share", "Send {\"share\": s} with s between 0 and 1.");
                }

                var version = await manager.StartCanaryAsync(source, share, context.RequestAborted).ConfigureAwait(false);
                return Json(VersionDto.From(version), ModelAdminJsonContext.Default.VersionDto);
            }));
        group.MapGet("/{model}/canary", (HttpContext context, string model) =>
            WithManager(context, model, manager => Task.FromResult<IResult>(manager.Candidate is { } candidate
                ? (IResult)Json(CandidateDto.From(candidate), ModelAdminJsonContext.Default.CandidateDto)
                : Problem(StatusCodes.Status404NotFound, "No candidate", $"Model '{model}' has no candidate."))));
        group.MapPost("/{model}/canary/promote", (HttpContext context, string model) =>
            WithManager(context, model, async manager => manager.Candidate is null
                ? (IResult)Problem(StatusCodes.Status404NotFound, "No candidate", $"Model '{model}' has no candidate.")
                : Json(VersionDto.From(await manager.PromoteCandidateAsync(context.RequestAborted).ConfigureAwait(false)), ModelAdminJsonContext.Default.VersionDto)));
        group.MapDelete("/{model}/canary", (HttpContext context, string model) =>
            WithManager(context, model, async manager =>
            {
                await manager.StopCandidateAsync(context.RequestAborted).ConfigureAwait(false);
                return TypedResults.NoContent();
            }));
        return group;
    }

    private static async Task<IResult> WithManager(HttpContext context, string model, Func<IModelManager, Task<IResult>> action)
    {
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        if (context.RequestServices.GetKeyedService<IModelManager>(model) is not { } manager)
        {
            return Problem(StatusCodes.Status404NotFound, "Unknown model", $"No model is named '{model}'.");
        }

        try
        {
            return await action(manager).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            // Pinned, or the candidate went away meanwhile: the state forbids it, the request was fine.
            return Problem(StatusCodes.Status409Conflict, "Not possible now", ex.Message);
        }
        catch (Exception ex) when (ModelProblems.TryCreate(ex, context) is { } problem)
        {
            return ProblemResult.For(problem);
        }
    }

    private static async Task<double?> ReadShareAsync(HttpContext context)
    {
        if (!context.Request.HasJsonContentType() || JsonInputReader<CanaryRequestDto>.CheckMediaType(context.Request) is not null)
        {
            return null;
        }

        try
        {
            var request = await JsonSerializer.DeserializeAsync(context.Request.Body, ModelAdminJsonContext.Default.CanaryRequestDto, context.RequestAborted).ConfigureAwait(false);
            return request?.Share is >= 0 and <= 1 ? request.Share : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonHttpResult<T> Json<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) => TypedResults.Json(value, info);

    private static ProblemResult Problem(int status, string title, string detail) => ProblemResult.For(status, title, detail);
}

// The JSON shapes of the admin endpoints: no file paths (ModelVersionInfo.Source is a server path), NaN as null.

internal sealed class ModelStatusDto
{
    public required string Model { get; init; }

    public required VersionDto Current { get; init; }

    public VersionDto? Previous { get; init; }

    public CandidateDto? Candidate { get; init; }

    public bool Pinned { get; init; }
}

internal sealed class VersionDto
{
    public long Version { get; init; }

    public string? Name { get; init; }

    public required string Sha256 { get; init; }

    public DateTimeOffset LoadedAt { get; init; }

    public long ModelVersion { get; init; }

    public static VersionDto From(ModelVersionInfo info) => new()
    {
        Version = info.Version,
        Name = info.Name,
        Sha256 = info.Sha256,
        LoadedAt = info.LoadedAt,
        ModelVersion = info.ModelVersion,
    };
}

internal sealed class CandidateDto
{
    public required VersionDto Version { get; init; }

    public CandidateMode Mode { get; init; }

    public double Share { get; init; }

    public long Requests { get; init; }

    public long Failures { get; init; }

    public long Agreements { get; init; }

    public long Disagreements { get; init; }

    public long Skipped { get; init; }

    public double? AgreementRate { get; init; }

    public static CandidateDto From(CandidateReport report) => new()
    {
        Version = VersionDto.From(report.Version),
        Mode = report.Mode,
        Share = report.Share,
        Requests = report.Requests,
        Failures = report.Failures,
        Agreements = report.Agreements,
        Disagreements = report.Disagreements,
        Skipped = report.Skipped,
        AgreementRate = double.IsFinite(report.AgreementRate) ? report.AgreementRate : null,
    };
}

internal sealed class CanaryRequestDto
{
    // Nullable, so that an absent "share" stays absent: the source-generated reader sets an init-only member it did not
    // find to its type's default (a NaN initializer became 0, and '{}' started a canary taking no traffic).
    public double? Share { get; init; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(ModelStatusDto))]
[JsonSerializable(typeof(VersionDto))]
[JsonSerializable(typeof(CandidateDto))]
[JsonSerializable(typeof(CanaryRequestDto))]
internal sealed partial class ModelAdminJsonContext : JsonSerializerContext;
