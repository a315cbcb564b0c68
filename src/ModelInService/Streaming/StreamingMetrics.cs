using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ModelInService.Telemetry;

namespace ModelInService.Streaming;

/// <summary>The streaming instruments, once per service provider (created from <see cref="IMeterFactory"/>).</summary>
internal sealed class StreamingMetrics
{
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.016, 0.025, 0.032, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private readonly ConcurrentDictionary<IStreamingModel, byte> _models = new();
    private readonly Counter<long> _chunks;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _events;

    public StreamingMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(ModelMetricNames.Meter);
        _chunks = meter.CreateCounter<long>(StreamingMetricNames.Chunks, "{chunk}", "Chunks answered by streaming models, by outcome.");
        _duration = meter.CreateHistogram(StreamingMetricNames.ChunkDuration, "s", "Time from a chunk's call to its answer, the wait for the stream's previous chunk included.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _events = meter.CreateCounter<long>(StreamingMetricNames.StreamEvents, "{stream}", "Streams opened, closed, expired or refused.");
        meter.CreateObservableGauge(StreamingMetricNames.OpenStreams, () => Observe(static m => m.OpenStreams), "{stream}", "Streams open now.");
        meter.CreateObservableGauge(StreamingMetricNames.StateBytes, () => Observe(static m => m.StateBytes), "By", "Bytes of state held by the open streams.");
    }

    public void Add(IStreamingModel model) => _models[model] = 0;

    public void Remove(IStreamingModel model) => _models.TryRemove(model, out _);

    public void Chunk(string model, Exception? error, TimeSpan elapsed)
    {
        _chunks.Add(1, new("model", model), new("outcome", error is null ? Outcomes.Success : Outcomes.Of(error)));
        if (_duration.Enabled)
        {
            _duration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("model", model));
        }
    }

    public void Opened(string model) => _events.Add(1, new("model", model), new("event", "opened"));

    public void Closed(string model) => _events.Add(1, new("model", model), new("event", "closed"));

    public void Expired(string model) => _events.Add(1, new("model", model), new("event", "expired"));

    public void Rejected(string model) => _events.Add(1, new("model", model), new("event", "refused"));

    private IEnumerable<Measurement<long>> Observe(Func<IStreamingModel, long> read)
    {
        foreach (var model in _models.Keys)
        {
            yield return new Measurement<long>(read(model), new KeyValuePair<string, object?>("model", model.ModelName));
        }
    }
}

/// <summary>What the streaming gauges read from each streaming model.</summary>
internal interface IStreamingModel
{
    string ModelName { get; }

    long OpenStreams { get; }

    long StateBytes { get; }
}

/// <summary>The provider's <see cref="StreamingMetrics"/>, or none when no <see cref="IMeterFactory"/> is registered.</summary>
internal sealed class StreamingMetricsHolder(StreamingMetrics? metrics)
{
    public StreamingMetrics? Metrics { get; } = metrics;
}
