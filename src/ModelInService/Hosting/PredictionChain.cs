using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelInService.Batching;
using ModelInService.Caching;
using ModelInService.Fallback;
using ModelInService.Monitoring;
using ModelInService.Routing;
using ModelInService.Schema;
using ModelInService.Sessions;
using ModelInService.Telemetry;

namespace ModelInService.Hosting;

/// <summary>
/// Composes a typed model's stages once, when its <see cref="IPredictor{TInput, TOutput}"/> is built, in this fixed
/// order (outermost first); a feature that is off is not in the chain:
/// <list type="number">
/// <item><see cref="TracingStage{TInput, TOutput}"/> — always (a span only while something listens to the package's ActivitySource);</item>
/// <item><see cref="FallbackStage{TInput, TOutput}"/> — <c>UseFallback</c>;</item>
/// <item><see cref="MetricsStage{TInput, TOutput}"/> — an <c>IMeterFactory</c> is registered;</item>
/// <item><see cref="ValidationStage{TInput, TOutput}"/> — always;</item>
/// <item><see cref="MonitoringStage{TInput, TOutput}"/> — <c>UseMonitoring</c>, unless the batch executor records;</item>
/// <item><see cref="RoutingStage{TInput, TOutput}"/> — always (a canary or shadow can start at any time);</item>
/// <item><see cref="PredictionCache{TInput, TOutput}"/> — <c>UseCaching</c>;</item>
/// <item><see cref="BatchingStage{TInput, TOutput}"/> (<c>UseBatching</c>) or <see cref="SessionStage{TInput, TOutput}"/>.</item>
/// </list>
/// Who records a prediction for the monitor is decided here, once: the batch executor (per batch) when the model
/// batches without a cache, else the monitoring stage (per call).
/// </summary>
internal static class PredictionChain
{
    public static Predictor<TInput, TOutput> Build<TInput, TOutput>(IServiceProvider services, string name)
    {
        var registry = services.GetRequiredService<ModelRegistry>();
        var host = registry.Get(name);
        var registration = host.Registration;
        var recorder = services.GetService<MonitorRegistry>()?.Find(name)?.Recorder as PredictionRecorder<TInput, TOutput>;
        var batching = registration.UseBatching ? services.GetRequiredService<IOptionsMonitor<BatchingOptions>>().Get(name) : null;
        var caching = registration.UseCaching ? services.GetRequiredService<IOptionsMonitor<CachingOptions>>().Get(name) : null;
        var fallback = Fallback<TInput, TOutput>(services, registration);
        var recordsInBatches = recorder is not null && batching is not null && caching is null;

        PredictionStage<TInput, TOutput> stage;
        Action? start = null;
        if (batching is not null)
        {
            var recordBatches = recordsInBatches ? recorder : null;
            stage = new BatchingStage<TInput, TOutput>(() =>
            {
                var executor = new RuntimeBatchExecutor<TInput, TOutput>(host, recordBatches);
                var batcher = new DynamicBatcher<TInput, TOutput>(name, batching, ThreadPlan.For(host.Options).MaxConcurrency, executor, host.Time);
                if (registry.Metrics is { } batchMetrics)
                {
                    batcher.Statistics.Listener = batchMetrics.ForBatcher(name);
                }

                host.Features.Attach(batcher, batching);
                return batcher;
            });
            var batchingStage = (BatchingStage<TInput, TOutput>)stage;
            start = () => _ = batchingStage.Batcher;
        }
        else
        {
            stage = new SessionStage<TInput, TOutput>(host);
        }

        if (caching is not null)
        {
            var cache = PredictionCache<TInput, TOutput>.Create(stage, caching, host, batching?.DefaultTimeout, services, name);
            host.Features.Attach(cache);
            stage = cache;
        }

        stage = new RoutingStage<TInput, TOutput>(stage, host.Candidates, recordsInBatches ? recorder : null, host.Time);
        if (recorder is not null && !recordsInBatches)
        {
            stage = new MonitoringStage<TInput, TOutput>(stage, recorder);
        }

        stage = new ValidationStage<TInput, TOutput>(stage, recorder);
        if (registry.Metrics is { } metrics)
        {
            stage = new MetricsStage<TInput, TOutput>(stage, metrics, name, fallback is null ? null : FallbackStage<TInput, TOutput>.Covers);
        }

        if (fallback is not null)
        {
            var logger = (services.GetService<Microsoft.Extensions.Logging.ILoggerFactory>() ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger("ModelInService");
            stage = new FallbackStage<TInput, TOutput>(stage, fallback, name, logger, registry.Metrics);
        }

        stage = new TracingStage<TInput, TOutput>(stage, name);

        return new Predictor<TInput, TOutput>(host, stage, recorder, start, registry.Metrics);
    }

    /// <summary>The fallback: the registered delegate, or another model resolved on first use (it may be registered later).</summary>
    private static Func<TInput, Exception, CancellationToken, ValueTask<TOutput>>? Fallback<TInput, TOutput>(IServiceProvider services, ModelRegistration registration)
    {
        if (registration.FallbackDelegate is Func<TInput, Exception, CancellationToken, ValueTask<TOutput>> fallback)
        {
            return fallback;
        }

        if (registration.FallbackModel is not { } other)
        {
            return null;
        }

        var lazy = new Lazy<IPredictor<TInput, TOutput>>(() => services.GetRequiredKeyedService<IPredictor<TInput, TOutput>>(other));
        return (input, _, ct) => lazy.Value.PredictAsync(input, ct);
    }
}
