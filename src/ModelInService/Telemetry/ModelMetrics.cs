using System.Diagnostics;
using System.Diagnostics.Metrics;
using ModelInService.Batching;
using ModelInService.Caching;

namespace ModelInService.Telemetry;

/// <summary>Values of the <c>outcome</c> tag (bounded).</summary>
internal static class Outcomes
{
    public const string Success = "success";
    public const string Invalid = "invalid";
    public const string Rejected = "rejected";
    public const string TimedOut = "timed_out";
    public const string Canceled = "canceled";
    public const string Failed = "failed";
    public const string Fallback = "fallback";
    public const string NonFiniteOutput = "non_finite_output";

    public static string Of(Exception error) => error switch
    {
        ModelInputException => Invalid,
        ModelNonFiniteOutputException => NonFiniteOutput,
        ModelOverloadedException => Rejected,
        ModelDeadlineExceededException => TimedOut,
        OperationCanceledException => Canceled,
        _ => Failed,
    };
}

/// <summary>
/// The package's instruments, created once per service provider from <see cref="IMeterFactory"/> (one meter named
/// <c>ModelInService</c>). Request counts and durations are recorded by the predictor; batch and queue figures come
/// from the batcher's listener; cache, queue depth and version are observed on collection.
/// </summary>
internal sealed class ModelMetrics
{
    private static readonly double[] SecondsBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] CallSecondsBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];
    private static readonly int[] SizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _compute;
    private readonly Histogram<int> _batchSize;
    private readonly Counter<long> _batchCalls;
    private readonly Counter<long> _batchRows;
    private readonly Histogram<double> _batchCallDuration;

    public ModelMetrics(IMeterFactory factory, Func<IEnumerable<IObservedModel>> registry)
    {
        var meter = factory.Create(ModelMetricNames.Meter);
        _requests = meter.CreateCounter<long>(ModelMetricNames.Requests, "{request}", "Predictions by model and outcome (success, invalid, rejected, timed_out, canceled, failed, non_finite_output, fallback).");
        _duration = meter.CreateHistogram(ModelMetricNames.RequestDuration, "s", "Time from PredictAsync to its result, queue and cache included.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _queueWait = meter.CreateHistogram(ModelMetricNames.QueueWait, "s", "Time requests waited in the batcher's queue.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _compute = meter.CreateHistogram(ModelMetricNames.BatchCompute, "s", "Time one batch took to run (pack, model, unpack).", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _batchSize = meter.CreateHistogram(ModelMetricNames.BatchSize, "{item}", "Requests per batch.", advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = SizeBuckets });
        _batchCalls = meter.CreateCounter<long>(ModelMetricNames.PredictBatchCalls, "{call}", "PredictBatchAsync calls by model and outcome (many rows each; not in the request figures).");
        _batchRows = meter.CreateCounter<long>(ModelMetricNames.PredictBatchRows, "{row}", "Rows of PredictBatchAsync calls by model and outcome.");
        _batchCallDuration = meter.CreateHistogram(ModelMetricNames.PredictBatchDuration, "s", "Time a PredictBatchAsync call took, validation included.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = CallSecondsBuckets });
        meter.CreateObservableCounter(ModelMetricNames.CandidateRequests, () => ObserveCandidates(registry), "{request}", "Requests the running canary or shadow candidate ran, by mode, candidate version and outcome.");
        meter.CreateObservableGauge(ModelMetricNames.QueueDepth, () => Observe(registry, static h => h.Batcher is { } b ? b.QueueDepth : (long?)null), "{request}", "Requests waiting in the batcher's queue.");
        meter.CreateObservableCounter(ModelMetricNames.CacheRequests, () => ObserveCache(registry), "{request}", "Cache lookups by result (hit, miss, join, bypass).");
        meter.CreateObservableCounter(ModelMetricNames.CacheEvictions, () => Observe(registry, static h => h.Cache?.Statistics.Evictions), "{entry}", "Entries evicted from the prediction cache.");
        meter.CreateObservableGauge(ModelMetricNames.CacheEntries, () => Observe(registry, static h => h.Cache?.Statistics.Count), "{entry}", "Entries in the prediction cache.");
        meter.CreateObservableGauge(ModelMetricNames.CacheBytes, () => Observe(registry, static h => h.Cache?.Statistics.Bytes), "By", "Estimated bytes held by the prediction cache.");
        meter.CreateObservableGauge(ModelMetricNames.ModelVersion, () => Observe(registry, static h => h.ServingVersion), "{version}", "The version number of the model generation serving requests.");
    }

    public void RequestCompleted(string model, string outcome, long startedTimestamp)
    {
        var tags = new TagList { { "model", model }, { "outcome", outcome } };
        _requests.Add(1, tags);
        if (_duration.Enabled)
        {
            _duration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, new KeyValuePair<string, object?>("model", model));
        }
    }

    /// <summary>Counts one <c>PredictBatchAsync</c> call and its rows with its outcome, and its duration.</summary>
    public void BatchCallCompleted(string model, string outcome, int rows, long startedTimestamp)
    {
        var tags = new TagList { { "model", model }, { "outcome", outcome } };
        _batchCalls.Add(1, tags);
        _batchRows.Add(rows, tags);
        if (_batchCallDuration.Enabled)
        {
            _batchCallDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, new KeyValuePair<string, object?>("model", model));
        }
    }

    /// <summary>A listener for one model's batcher.</summary>
    public IBatcherListener ForBatcher(string model) => new BatcherListener(this, model);

    private static IEnumerable<Measurement<long>> Observe(Func<IEnumerable<IObservedModel>> registry, Func<IObservedModel, long?> read)
    {
        foreach (var host in registry())
        {
            if (read(host) is { } value)
            {
                yield return new Measurement<long>(value, new KeyValuePair<string, object?>("model", host.Name));
            }
        }
    }

    /// <summary>The candidate's counts; tagged with its version, so a new candidate is a new series (the counts restart).</summary>
    private static IEnumerable<Measurement<long>> ObserveCandidates(Func<IEnumerable<IObservedModel>> registry)
    {
        foreach (var host in registry())
        {
            if (host.Candidate is not { } candidate)
            {
                continue;
            }

            var model = new KeyValuePair<string, object?>("model", host.Name);
            var mode = new KeyValuePair<string, object?>("mode", candidate.Mode == CandidateMode.Canary ? "canary" : "shadow");
            var version = new KeyValuePair<string, object?>("version", candidate.Version.Version);
            yield return new Measurement<long>(candidate.Requests - candidate.Failures, model, mode, version, new("outcome", Outcomes.Success));
            yield return new Measurement<long>(candidate.Failures, model, mode, version, new("outcome", Outcomes.Failed));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveCache(Func<IEnumerable<IObservedModel>> registry)
    {
        foreach (var host in registry())
        {
            if (host.Cache is not { } cache)
            {
                continue;
            }

            var model = new KeyValuePair<string, object?>("model", host.Name);
            yield return new Measurement<long>(cache.Statistics.Hits, model, new("result", "hit"));
            yield return new Measurement<long>(cache.Statistics.Misses, model, new("result", "miss"));
            yield return new Measurement<long>(cache.Statistics.Joins, model, new("result", "join"));
            yield return new Measurement<long>(cache.Bypassed, model, new("result", "bypass"));
        }
    }

    private sealed class BatcherListener(ModelMetrics metrics, string model) : IBatcherListener
    {
        private readonly KeyValuePair<string, object?> _model = new("model", model);

        public void RequestCompleted(RequestOutcome outcome)
        {
            // Counted once per request by the predictor (which also sees cache hits and validation failures).
        }

        public void BatchCompleted(int size, TimeSpan compute)
        {
            metrics._batchSize.Record(size, _model);
            metrics._compute.Record(compute.TotalSeconds, _model);
        }

        public void QueueWaited(TimeSpan wait) => metrics._queueWait.Record(wait.TotalSeconds, _model);

        public void QueueDepthChanged(int depth)
        {
            // Observed on collection (model_in_service.queue.depth).
        }
    }
}
