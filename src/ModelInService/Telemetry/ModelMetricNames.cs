namespace ModelInService;

/// <summary>
/// The names of the package's meter and instruments, for exporters and listeners
/// (<c>metrics.AddMeter(ModelModelMetricNames.Meter)</c>); docs/metrics.md lists units and tags.
/// </summary>
public static class ModelMetricNames
{
    /// <summary>The meter every instrument belongs to.</summary>
    public const string Meter = "ModelInService";

    /// <summary>
    /// The <see cref="System.Diagnostics.ActivitySource"/> of the prediction spans (<c>predict {model}</c>, one per
    /// call, and <c>predict_batch {model}</c>): <c>tracing.AddSource(ModelMetricNames.ActivitySource)</c>. docs/metrics.md lists their tags.
    /// </summary>
    public const string ActivitySource = "ModelInService";

    /// <summary>Predictions by model and outcome (counter).</summary>
    public const string Requests = "model_in_service.requests";

    /// <summary>Prediction duration in seconds (histogram).</summary>
    public const string RequestDuration = "model_in_service.request.duration";

    /// <summary>Time in the batcher's queue in seconds (histogram).</summary>
    public const string QueueWait = "model_in_service.queue.wait";

    /// <summary>One batch's run time in seconds (histogram).</summary>
    public const string BatchCompute = "model_in_service.batch.compute";

    /// <summary>Requests per batch (histogram).</summary>
    public const string BatchSize = "model_in_service.batch.size";

    /// <summary>Requests waiting in the batcher's queue (observable gauge).</summary>
    public const string QueueDepth = "model_in_service.queue.depth";

    /// <summary><c>PredictBatchAsync</c> calls by model and outcome (counter); one call is many rows, so these are not requests.</summary>
    public const string PredictBatchCalls = "model_in_service.predict_batch.calls";

    /// <summary>Rows of <c>PredictBatchAsync</c> calls by model and outcome (counter).</summary>
    public const string PredictBatchRows = "model_in_service.predict_batch.rows";

    /// <summary>Time a <c>PredictBatchAsync</c> call took, validation included (histogram, seconds).</summary>
    public const string PredictBatchDuration = "model_in_service.predict_batch.duration";

    /// <summary>
    /// Requests the running canary or shadow candidate ran, by model, mode (canary, shadow), candidate version and
    /// outcome (success, failed) (observable counter): a canary's share of the traffic next to <see cref="Requests"/>.
    /// </summary>
    public const string CandidateRequests = "model_in_service.candidate.requests";

    /// <summary>Cache lookups by result (observable counter).</summary>
    public const string CacheRequests = "model_in_service.cache.requests";

    /// <summary>Cache evictions (observable counter).</summary>
    public const string CacheEvictions = "model_in_service.cache.evictions";

    /// <summary>Cache entries held (observable gauge).</summary>
    public const string CacheEntries = "model_in_service.cache.entries";

    /// <summary>Estimated bytes the cache holds (observable gauge).</summary>
    public const string CacheBytes = "model_in_service.cache.bytes";

    /// <summary>The live generation's process-unique version (observable gauge).</summary>
    public const string ModelVersion = "model_in_service.model.version";

    /// <summary>Predictions profiled by the monitor (counter).</summary>
    public const string MonitorRecords = "model_in_service.monitor.records";

    /// <summary>Predictions not profiled because the monitor's queue was full (counter).</summary>
    public const string MonitorDropped = "model_in_service.monitor.dropped";

    /// <summary>Predictions left out of profiling by the sampling budget (counter).</summary>
    public const string MonitorUnsampled = "model_in_service.monitor.unsampled";

    /// <summary>Monitor events raised (counter).</summary>
    public const string MonitorEvents = "model_in_service.monitor.events";

    /// <summary>Monitor handlers that threw or timed out (counter).</summary>
    public const string MonitorHandlerFailures = "model_in_service.monitor.handler.failures";

    /// <summary>Each feature's drift distance at the last evaluation (observable gauge).</summary>
    public const string MonitorDrift = "model_in_service.monitor.drift";
}
