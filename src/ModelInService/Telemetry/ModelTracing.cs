using System.Diagnostics;
using ModelInService.Sessions;

namespace ModelInService.Telemetry;

/// <summary>
/// The package's <see cref="ActivitySource"/> (<see cref="ModelMetricNames.ActivitySource"/>) and its tags. A
/// prediction span is started only while something listens (an OpenTelemetry tracer with
/// <c>AddSource("ModelInService")</c>, an <see cref="ActivityListener"/>): otherwise nothing is allocated or read.
/// </summary>
internal static class ModelTracing
{
    public const string ModelTag = "model_in_service.model";
    public const string VersionTag = "model_in_service.model.version";
    public const string OutcomeTag = "model_in_service.outcome";
    public const string CacheTag = "model_in_service.cache";
    public const string BatchSizeTag = "model_in_service.batch.size";
    public const string QueueWaitTag = "model_in_service.queue.wait_ms";
    public const string FallbackTag = "model_in_service.fallback";
    public const string RowsTag = "model_in_service.rows";
    public const string VariantTag = "model_in_service.variant";
    public const string ErrorTypeTag = "error.type";

    /// <summary>The package's source; its version is the assembly's.</summary>
    public static readonly ActivitySource Source = new(ModelMetricNames.ActivitySource, typeof(ModelTracing).Assembly.GetName().Version?.ToString());

    /// <summary>Whether anything listens to the package's spans (one field read).</summary>
    public static bool Enabled => Source.HasListeners();

    /// <summary>The current activity when it is one of this package's prediction spans, else null (the app's spans are never tagged).</summary>
    public static Activity? Current => Source.HasListeners() && Activity.Current is { } current && ReferenceEquals(current.Source, Source) ? current : null;

    /// <summary>Marks <paramref name="activity"/> failed with <paramref name="error"/>'s outcome and type (never its message: it may name a file).</summary>
    public static void Failed(Activity activity, Exception error)
    {
        activity.SetTag(OutcomeTag, Outcomes.Of(error));
        activity.SetTag(ErrorTypeTag, error.GetType().FullName);
        activity.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
    }
}

/// <summary>
/// The outermost stage: one span per call, named <c>predict {model}</c>, with the model, its serving version and the
/// outcome; the stages below add what they decided (cache hit, miss or join; the batch it ran in and its queue wait;
/// whether the fallback answered). Always in the chain (a tracer can be added at any time), a field read when nobody
/// listens. The span is started inside an async method, so <see cref="Activity.Current"/> never leaks to the caller.
/// </summary>
internal sealed class TracingStage<TInput, TOutput>(PredictionStage<TInput, TOutput> next, string model)
    : DelegatingStage<TInput, TOutput>(next)
{
    private readonly string _spanName = "predict " + model;

    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken) =>
        ModelTracing.Enabled ? TraceAsync(serving, input, options, cancellationToken) : Next.PredictAsync(serving, input, options, cancellationToken);

    private async ValueTask<TOutput> TraceAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        using var activity = ModelTracing.Source.StartActivity(_spanName, ActivityKind.Internal);
        if (activity is null)
        {
            return await Next.PredictAsync(serving, input, options, cancellationToken).ConfigureAwait(false);
        }

        activity.SetTag(ModelTracing.ModelTag, model);
        if (serving.Error is null)
        {
            activity.SetTag(ModelTracing.VersionTag, serving.Runtime.Version);
        }

        try
        {
            var output = await Next.PredictAsync(serving, input, options, cancellationToken).ConfigureAwait(false);
            activity.SetTag(ModelTracing.OutcomeTag, Outcomes.Success);
            return output;
        }
        catch (Exception ex)
        {
            ModelTracing.Failed(activity, ex);
            throw;
        }
    }
}
