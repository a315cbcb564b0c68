using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelInService.Monitoring;

namespace ModelInService.AspNetCore;

/// <summary>Options of <see cref="ModelMonitorEndpointRouteBuilderExtensions.MapModelMonitor"/>.</summary>
/// <remarks>Read once, when the endpoints are mapped. Not thread-safe (configure it in the callback only).</remarks>
public sealed class ModelMonitorEndpointOptions
{
    /// <summary>
    /// Gets or sets the authorization policy every monitor endpoint requires (the dashboard shows feature statistics
    /// and the snapshot holds sketches of production inputs).
    /// </summary>
    /// <value>Default null: the application's default policy (an authenticated user), as <c>RequireAuthorization()</c>.</value>
    public string? AuthorizationPolicy { get; set; }

    /// <summary>
    /// Gets or sets whether the endpoints are open to anonymous callers. Set it only for a local or development
    /// environment, or behind a network boundary you trust; it takes precedence over <see cref="AuthorizationPolicy"/>.
    /// </summary>
    /// <value>Default false.</value>
    public bool AllowAnonymous { get; set; }
}

/// <summary>Maps the model monitor's JSON API, snapshot export and dashboard page.</summary>
public static class ModelMonitorEndpointRouteBuilderExtensions
{
    private static readonly Lazy<DashboardPage> Page = new(DashboardPage.Load);

    /// <summary>
    /// Maps the monitor endpoints of every model registered with <c>UseMonitoring</c>, under
    /// <paramref name="pattern"/>: <c>GET {pattern}</c> the dashboard (one self-contained page, no external resources),
    /// <c>GET {pattern}/api/models</c> the monitored models and their windows,
    /// <c>GET {pattern}/api/models/{model}/report?window=15m</c> a window's report (per feature statistics, distance,
    /// thresholds, status, reference vs window distribution; violations; outcomes),
    /// <c>.../history?window=15m</c> the distance of each past window, <c>.../metrics</c> serving figures (requests,
    /// latency, batching, cache) and <c>.../snapshot</c> the monitor's snapshot file for a cross-replica merge
    /// (<see cref="MonitorSnapshot.ReadFrom"/> then <see cref="IModelMonitor.MergeSnapshot"/>). Report, history and snapshot
    /// take <c>?scope=cluster</c> for the model's cluster view (<see cref="ModelMonitorViews.ClusterKey"/>, registered
    /// by ModelInService.Redis) instead of this replica's monitor. Every endpoint requires
    /// authorization unless <see cref="ModelMonitorEndpointOptions.AllowAnonymous"/> is set.
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="pattern">The route prefix.</param>
    /// <param name="configure">Sets the authorization policy or opens the endpoints.</param>
    /// <returns>The group of monitor endpoints, for more conventions (e.g. <c>RequireHost</c>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> or <paramref name="pattern"/> is null.</exception>
    /// <exception cref="InvalidOperationException">Authorization is required but no authentication scheme (or no authorization service) is registered: every request would fail.</exception>
    public static RouteGroupBuilder MapModelMonitor(
        this IEndpointRouteBuilder endpoints,
        [StringSyntax("Route")] string pattern = "/monitor",
        Action<ModelMonitorEndpointOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        var options = new ModelMonitorEndpointOptions();
        configure?.Invoke(options);

        var services = endpoints.ServiceProvider;
        var metrics = new ServingMetricsListener(services.GetService<IMeterFactory>());
        services.GetService<IHostApplicationLifetime>()?.ApplicationStopped.Register(metrics.Dispose);

        var group = endpoints.MapGroup(pattern).WithTags("Model monitor");
        EndpointAuthorization.Require(group, services, options.AuthorizationPolicy, options.AllowAnonymous, "model monitor endpoints", nameof(ModelMonitorEndpointOptions));

        group.MapGet("", (HttpContext context) => ServeDashboard(context)).ExcludeFromDescription();
        group.MapGet("/api/models", (HttpContext context) => NoStore(context, TypedResults.Json(
            new ModelList
            {
                Models = [.. Monitors(context.RequestServices).Select(m => MonitorView.Summary(m, MonitoringOptions(context, m.ModelName),
                    context.RequestServices.GetKeyedService<IModelMonitor>(ModelMonitorViews.ClusterKey(m.ModelName)) is not null))],
            },
            MonitorJsonContext.Default.ModelList)));
        group.MapGet("/api/models/{model}/report", (HttpContext context, string model, string? window, string? scope) =>
            WithMonitor(context, model, window, scope, (monitor, w) => TypedResults.Json(MonitorView.Report(monitor, w), MonitorJsonContext.Default.ReportDto)));
        group.MapGet("/api/models/{model}/history", (HttpContext context, string model, string? window, string? scope) =>
            WithMonitor(context, model, window, scope, (monitor, w) => TypedResults.Json(MonitorView.History(monitor, MonitoringOptions(context, model), w), MonitorJsonContext.Default.HistoryDto)));
        group.MapGet("/api/models/{model}/metrics", (HttpContext context, string model) =>
            WithMonitor(context, model, null, null, (_, _) => TypedResults.Json(metrics.GetFigures(model), MonitorJsonContext.Default.ServingFigures)));
        group.MapGet("/api/models/{model}/snapshot", (HttpContext context, string model, string? scope) =>
            WithMonitor(context, model, null, scope, (monitor, _) =>
            {
                using var buffer = new MemoryStream();
                monitor.ExportSnapshot().WriteTo(buffer);
                return TypedResults.File(buffer.ToArray(), "application/octet-stream", model + ".monitor");
            }));
        return group;
    }

    // Each model's own monitor (keyed by its name): other views registered under other keys (ModelMonitorViews) carry
    // the same ModelName and are reached through ?scope= instead.
    private static IEnumerable<IModelMonitor> Monitors(IServiceProvider services) =>
        services.GetKeyedServices<IModelMonitor>(KeyedService.AnyKey)
            .Select(m => m.ModelName)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .Select(name => services.GetKeyedService<IModelMonitor>(name))
            .OfType<IModelMonitor>();

    // The options the running monitor was started with (it reads them once): the live IOptionsMonitor value changes
    // when a reloading configuration source (appsettings.json) changes, and then fails validation or describes
    // intervals and windows the monitor does not use. Only a monitor the registry did not make (registered by the
    // application itself) falls back to the configured options.
    private static MonitoringOptions MonitoringOptions(HttpContext context, string model) =>
        context.RequestServices.GetService<MonitorRegistry>()?.Find(model)?.Options
        ?? context.RequestServices.GetRequiredService<IOptionsMonitor<MonitoringOptions>>().Get(model);

    private static IResult WithMonitor(HttpContext context, string model, string? windowText, string? scope, Func<IModelMonitor, TimeSpan, IResult> action)
    {
        if (context.RequestServices.GetKeyedService<IModelMonitor>(model) is not { } monitor)
        {
            return ProblemResult.For(statusCode: StatusCodes.Status404NotFound, title: "Unknown model", detail: $"No monitored model is named '{model}'.");
        }

        switch (scope)
        {
            case null or "local":
                break;
            case "cluster":
                if (context.RequestServices.GetKeyedService<IModelMonitor>(ModelMonitorViews.ClusterKey(model)) is not { } cluster)
                {
                    return ProblemResult.For(statusCode: StatusCodes.Status404NotFound, title: "No cluster view",
                        detail: $"Model '{model}' has no cluster view: its replicas do not share their monitors (UseRedisMonitoring).");
                }

                monitor = cluster;
                break;
            default:
                return ProblemResult.For(statusCode: StatusCodes.Status400BadRequest, title: "Invalid scope", detail: "Give the scope as local (this replica) or cluster (every replica).");
        }

        var options = MonitoringOptions(context, model);
        var window = MonitorView.Windows(options)[0];
        if (windowText is not null && !MonitorView.TryParseWindow(windowText, out window))
        {
            return ProblemResult.For(statusCode: StatusCodes.Status400BadRequest, title: "Invalid window", detail: "Give the window as 15m, 1h, 90s, 900 (seconds) or 00:15:00.");
        }

        if (window.Ticks % options.IntervalLength.Ticks != 0)
        {
            // The monitor would cover only the whole intervals in it, and the report would name a window it did not cover.
            return ProblemResult.For(statusCode: StatusCodes.Status400BadRequest, title: "Invalid window",
                detail: $"The window must be whole intervals of {MonitorView.FormatWindow(options.IntervalLength)} (e.g. {MonitorView.FormatWindow(options.IntervalLength * 15)}).");
        }

        try
        {
            return NoStore(context, action(monitor, window));
        }
        catch (ArgumentOutOfRangeException ex) when (ex.ParamName == "window")
        {
            return ProblemResult.For(statusCode: StatusCodes.Status400BadRequest, title: "Invalid window", detail: ex.Message);
        }
    }

    private static IResult NoStore(HttpContext context, IResult result)
    {
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return result;
    }

    private static ContentHttpResult ServeDashboard(HttpContext context)
    {
        // A fresh nonce per response: the page's only script and style run, nothing injected can.
        var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = $"default-src 'none'; connect-src 'self'; img-src 'self' data:; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";
        var api = (context.Request.PathBase + context.Request.Path).Value?.TrimEnd('/') + "/api";
        return TypedResults.Content(Page.Value.Render(nonce, WebUtility.HtmlEncode(api)), "text/html; charset=utf-8");
    }

    /// <summary>The embedded page: HTML with the stylesheet and the script inlined.</summary>
    private sealed class DashboardPage(string html, string css, string js)
    {
        public static DashboardPage Load() => new(Read("dashboard.html"), Read("dashboard.css"), Read("dashboard.js"));

        public string Render(string nonce, string api) => html
            .Replace("{{api}}", api, StringComparison.Ordinal)
            .Replace("{{style}}", css, StringComparison.Ordinal)
            .Replace("{{script}}", js, StringComparison.Ordinal)
            .Replace("{{nonce}}", nonce, StringComparison.Ordinal);

        private static string Read(string name)
        {
            using var stream = typeof(DashboardPage).Assembly.GetManifestResourceStream("ModelInService.AspNetCore." + name)
                ?? throw new InvalidOperationException($"The dashboard resource '{name}' is missing from the assembly.");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }
}
