using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ModelInService.AspNetCore;

/// <summary>Maps the readiness and liveness endpoints that fit the model checks.</summary>
public static class ModelHealthEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET <paramref name="readyPattern"/></c> to the checks tagged <c>ready</c> (one per model with
    /// <c>services.AddHealthChecks().AddModelChecks()</c>: 200 when every model serves, 503 when one is not loaded)
    /// and <c>GET <paramref name="livePattern"/></c> to no check at all (200 while the process answers), so that a model
    /// that cannot load takes the instance out of the load balancer without restarting it in a loop. Both answer JSON:
    /// the overall status and, for readiness, each check's status, description and data (version, queue depth).
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="readyPattern">The readiness route.</param>
    /// <param name="livePattern">The liveness route.</param>
    /// <returns>A builder that applies further conventions (e.g. <c>RequireHost</c>) to both endpoints.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IEndpointConventionBuilder MapModelHealthChecks(
        this IEndpointRouteBuilder endpoints,
        [StringSyntax("Route")] string readyPattern = "/health/ready",
        [StringSyntax("Route")] string livePattern = "/health/live")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(readyPattern);
        ArgumentNullException.ThrowIfNull(livePattern);
        var ready = endpoints.MapHealthChecks(readyPattern, new HealthCheckOptions
        {
            Predicate = static c => c.Tags.Contains("ready"),
            ResponseWriter = WriteAsync,
        });
        var live = endpoints.MapHealthChecks(livePattern, new HealthCheckOptions
        {
            Predicate = static _ => false,
            ResponseWriter = WriteAsync,
        });
        return new CompositeConventionBuilder([ready, live]);
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var body = new HealthResponse(
            report.Status.ToString(),
            report.TotalDuration.TotalMilliseconds,
            [.. report.Entries.Select(e => new HealthEntry(
                e.Key,
                e.Value.Status.ToString(),
                e.Value.Description,
                e.Value.Data.ToDictionary(d => d.Key, d => d.Value?.ToString(), StringComparer.Ordinal)))]);
        context.Response.ContentType = "application/json; charset=utf-8";

        // A cached readiness answer is a wrong one (a proxy or a browser would keep showing a model as up or down).
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return JsonSerializer.SerializeAsync(context.Response.Body, body, MonitorJsonContext.Default.HealthResponse, context.RequestAborted);
    }

    private sealed class CompositeConventionBuilder(IEndpointConventionBuilder[] builders) : IEndpointConventionBuilder
    {
        public void Add(Action<EndpointBuilder> convention)
        {
            foreach (var builder in builders)
            {
                builder.Add(convention);
            }
        }

        public void Finally(Action<EndpointBuilder> finallyConvention)
        {
            foreach (var builder in builders)
            {
                builder.Finally(finallyConvention);
            }
        }
    }
}

internal sealed record HealthResponse(string Status, double DurationMs, IReadOnlyList<HealthEntry> Checks);

internal sealed record HealthEntry(string Name, string Status, string? Description, IReadOnlyDictionary<string, string?> Data);
