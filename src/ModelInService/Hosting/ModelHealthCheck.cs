using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ModelInService.Hosting;
using ModelInService.Monitoring;

namespace ModelInService;

/// <summary>
/// Readiness of one model: Healthy when loaded and warm, Degraded when its queue is at least 80% full, its last reload
/// failed (an older version serves) or its monitor reports drift or a failing data-quality rule, Unhealthy when no version is loaded (not yet, failed, or stopped).
/// </summary>
internal sealed class ModelReadinessCheck(ModelRegistry registry, string model, MonitorRegistry? monitors = null) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var host = registry.Get(model);
        var data = new Dictionary<string, object> { ["state"] = host.State };
        if (!host.IsLoaded)
        {
            string reason;
            try
            {
                _ = host.Runtime;
                reason = "not loaded";
            }
            catch (ModelLoadException)
            {
                // Its message names the file and ONNX Runtime's words: health answers anonymously, so they stay in the log.
                reason = "it failed to load (the reason is logged, event 1002)";
            }
            catch (ModelException ex)
            {
                reason = ex.Message; // not loaded yet, stopped: no server details
            }

            return Task.FromResult(HealthCheckResult.Unhealthy($"Model '{model}' is not serving: {reason}", data: data));
        }

        var runtime = host.Runtime;
        data["version"] = runtime.Version;
        data["copies"] = runtime.Copies;
        data["maxConcurrency"] = runtime.MaxConcurrency;
        if (host.Features.Batcher is { } batcher && host.Features.BatchingOptions is { } options)
        {
            data["queueDepth"] = batcher.QueueDepth;
            data["maxQueueSize"] = options.MaxQueueSize;
            if (batcher.QueueDepth >= 0.8 * options.MaxQueueSize)
            {
                return Task.FromResult(HealthCheckResult.Degraded($"Model '{model}' queue is {batcher.QueueDepth}/{options.MaxQueueSize}: near its bound.", data: data));
            }
        }

        if (host.LastReloadFailure is { } failure)
        {
            // Still answering, with the older version: the file or source on disk is not what serves. The source (a path)
            // and the error (ONNX Runtime's words, with the path and its version) are logged (event 1008), not answered:
            // health answers anonymously and docs/security.md promises no file paths in answers.
            var at = failure.At.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            data["lastReloadFailedAt"] = at;
            return Task.FromResult(HealthCheckResult.Degraded($"Model '{model}' serves version {runtime.Version}, but its last reload failed at {at} (the reason is logged, event 1008).", data: data));
        }

        if (monitors?.Find(model) is { } monitor)
        {
            var (drifted, violating, dataset) = monitor.CurrentStatus();
            if (drifted.Count > 0 || violating.Count > 0 || dataset)
            {
                data["drifted"] = string.Join(",", drifted);
                data["violations"] = string.Join(",", violating);
                data["datasetDrift"] = dataset;
                var what = new List<string>(3);
                if (dataset)
                {
                    what.Add("dataset drift");
                }

                if (drifted.Count > 0)
                {
                    what.Add("drift in " + string.Join(", ", drifted));
                }

                if (violating.Count > 0)
                {
                    what.Add("quality rules failing: " + string.Join(", ", violating));
                }

                // Degraded, not unhealthy: the model still answers (MapHealthChecks answers 200 for Degraded); the
                // monitor's events say what to do about it.
                return Task.FromResult(HealthCheckResult.Degraded($"Model '{model}' (version {runtime.Version}) serves, but its monitor reports {string.Join("; ", what)}.", data: data));
            }
        }

        return Task.FromResult(HealthCheckResult.Healthy($"Model '{model}' is loaded (version {runtime.Version}).", data));
    }
}

/// <summary>Adds model health checks to <see cref="IHealthChecksBuilder"/>.</summary>
public static class ModelHealthChecksBuilderExtensions
{
    private static readonly string[] ReadyTag = ["ready"];

    /// <summary>
    /// Adds a readiness check per registered model, named <c>model:{name}</c> and tagged <c>ready</c>: Healthy when
    /// loaded and warm, Degraded when its batching queue is at least 80% full, its last reload failed (an older version
    /// serves; data <c>lastReloadFailedAt</c>, the reason in the log) or (with <c>UseMonitoring</c>) the monitor's last evaluation found drift or
    /// a failing data-quality rule, Unhealthy when no version is loaded.
    /// Call it after the <c>AddModel</c> calls. Map readiness with a tag predicate, e.g.
    /// <c>app.MapHealthChecks("/health/ready", new() { Predicate = c =&gt; c.Tags.Contains("ready") })</c>, and keep
    /// liveness free of model checks (a model that failed to load should not restart the pod in a loop).
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="tags">Extra tags for every model check.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    public static IHealthChecksBuilder AddModelChecks(this IHealthChecksBuilder builder, params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var allTags = ReadyTag.Concat(tags ?? []).ToArray();
        foreach (var descriptor in builder.Services.ToList())
        {
            if (descriptor.ServiceType == typeof(ModelRegistration) && descriptor.ImplementationInstance is ModelRegistration registration)
            {
                var name = registration.Name;
                builder.Add(new HealthCheckRegistration(
                    "model:" + name,
                    sp => new ModelReadinessCheck(sp.GetRequiredService<ModelRegistry>(), name, sp.GetService<MonitorRegistry>()),
                    failureStatus: HealthStatus.Unhealthy,
                    tags: allTags));
            }
        }

        return builder;
    }
}
