using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace ModelInService.AspNetCore;

/// <summary>
/// Refuses state-changing requests (anything but GET, HEAD, OPTIONS) that a page of another site could have made a
/// browser send without asking the server first (CSRF): a cross-site <c>Sec-Fetch-Site</c>, an <c>Origin</c> that is
/// not this host, or a body of a type an HTML form can post (<c>text/plain</c>, form-urlencoded, multipart). Scripts
/// and tools (curl, HttpClient) send none of these; a browser's cross-site JSON request needs a CORS preflight, which
/// these endpoints never grant. Found by an outside probe: a form on another origin promoted a canary through an
/// operator's browser.
/// </summary>
internal static class CrossSiteGuard
{
    public static TBuilder RefuseCrossSiteWrites<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.AddEndpointFilter(static (context, next) => Check(context.HttpContext.Request) is { } refused ? ValueTask.FromResult<object?>(refused) : next(context));
        return builder;
    }

    internal static IResult? Check(HttpRequest request)
    {
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method))
        {
            return null;
        }

        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0 && !site.Equals("same-origin", StringComparison.OrdinalIgnoreCase) && !site.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return Refused($"Sec-Fetch-Site is '{site}'");
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && !SameOrigin(origin, request))
        {
            return Refused("its Origin is another site");
        }

        if (request.ContentType is { Length: > 0 } contentType && MediaTypeHeaderValue.TryParse(contentType, out var media)
            && (media.MediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase)
                || media.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase)
                || media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)))
        {
            return ProblemResult.For(
                statusCode: StatusCodes.Status415UnsupportedMediaType,
                title: "Unsupported media type",
                detail: $"This endpoint changes state: send no body or JSON (application/json), not {media.MediaType} (a type an HTML form of another site can post).");
        }

        return null;
    }

    private static bool SameOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && uri.Scheme.Equals(request.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(uri.IsDefaultPort ? uri.Host : uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);

    private static ProblemResult Refused(string why) => ProblemResult.For(
        statusCode: StatusCodes.Status403Forbidden,
        title: "Cross-site request refused",
        detail: $"This endpoint changes state and refuses requests a page of another site could have sent ({why}). Call it from a script or a tool, or from a page of this site.");
}
