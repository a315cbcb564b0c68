using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace ModelInService.AspNetCore;

/// <summary>
/// Listens to the "ModelInService" meter of one host (its <see cref="IMeterFactory"/>) and keeps the figures the
/// dashboard shows per model: requests by outcome, recent latency, queue wait and batch compute percentiles, batch
/// sizes, queue depth, cache lookups and the live version. Public instruments are the only source (the core exposes
/// no statistics object), so the figures match what an OpenTelemetry exporter sees.
/// </summary>
/// <remarks>
/// Thread-safe. The request path pays an interlocked increment and an array store per measurement; the observable
/// instruments are only read when a dashboard asks (<see cref="GetFigures"/>).
/// </remarks>
internal sealed class ServingMetricsListener : IDisposable
{

    /// <summary>Per model name; models appear when their first measurement arrives.</summary>
    private readonly ConcurrentDictionary<string, ModelFigures> _models = new(StringComparer.Ordinal);

    /// <summary>The listener; null when the host has no meter factory (nothing is measured then).</summary>
    private readonly MeterListener? _listener;

    /// <summary>Serializes <see cref="MeterListener.RecordObservableInstruments"/> with the reads of its results.</summary>
    private readonly Lock _observeLock = new();

    public ServingMetricsListener(IMeterFactory? meterFactory)
    {
        if (meterFactory is null)
        {
            return;
        }

        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                // Only this host's meter: several hosts (tests, multi-tenant apps) may share the process.
                if (instrument.Meter.Name == ModelMetricNames.Meter && ReferenceEquals(instrument.Meter.Scope, meterFactory) && Kind(instrument.Name) is { } kind)
                {
                    listener.EnableMeasurementEvents(instrument, kind);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, state) => OnMeasurement((InstrumentKind)state!, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, state) => OnMeasurement((InstrumentKind)state!, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, state) => OnMeasurement((InstrumentKind)state!, v, tags));
        _listener.Start();
    }

    private enum InstrumentKind
    {
        Requests,
        Duration,
        QueueWait,
        BatchCompute,
        BatchSize,
        QueueDepth,
        CacheRequests,
        CacheEvictions,
        CacheEntries,
        CacheBytes,
        Version,
    }

    /// <summary>Gets whether measurements are collected (the host registers an <see cref="IMeterFactory"/>).</summary>
    public bool Enabled => _listener is not null;

    /// <summary>Reads the observable instruments and returns the figures of one model (zeros when it never reported).</summary>
    /// <param name="model">The model name.</param>
    /// <returns>The figures.</returns>
    public ServingFigures GetFigures(string model)
    {
        lock (_observeLock)
        {
            _listener?.RecordObservableInstruments();
            var figures = _models.GetOrAdd(model, static _ => new ModelFigures());
            return figures.ToDto(model, Enabled);
        }
    }

    public void Dispose() => _listener?.Dispose();

    private static object? Kind(string name) => name switch
    {
        ModelMetricNames.Requests => InstrumentKind.Requests,
        ModelMetricNames.RequestDuration => InstrumentKind.Duration,
        ModelMetricNames.QueueWait => InstrumentKind.QueueWait,
        ModelMetricNames.BatchCompute => InstrumentKind.BatchCompute,
        ModelMetricNames.BatchSize => InstrumentKind.BatchSize,
        ModelMetricNames.QueueDepth => InstrumentKind.QueueDepth,
        ModelMetricNames.CacheRequests => InstrumentKind.CacheRequests,
        ModelMetricNames.CacheEvictions => InstrumentKind.CacheEvictions,
        ModelMetricNames.CacheEntries => InstrumentKind.CacheEntries,
        ModelMetricNames.CacheBytes => InstrumentKind.CacheBytes,
        ModelMetricNames.ModelVersion => InstrumentKind.Version,
        _ => null,
    };

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value as string;
            }
        }

        return null;
    }

    private void OnMeasurement(InstrumentKind kind, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (Tag(tags, "model") is not { } model)
        {
            return;
        }

        var figures = _models.GetOrAdd(model, static _ => new ModelFigures());
        switch (kind)
        {
            case InstrumentKind.Requests:
                figures.Outcomes.AddOrUpdate(Tag(tags, "outcome") ?? "unknown", (long)value, (_, old) => old + (long)value);
                break;
            case InstrumentKind.Duration:
                figures.Duration.Add(value);
                break;
            case InstrumentKind.QueueWait:
                figures.QueueWait.Add(value);
                break;
            case InstrumentKind.BatchCompute:
                figures.BatchCompute.Add(value);
                break;
            case InstrumentKind.BatchSize:
                figures.BatchSize.Add(value);
                break;
            case InstrumentKind.CacheRequests:
                // Observable counter: the callback reports cumulative totals per result.
                figures.Cache[Tag(tags, "result") ?? "unknown"] = (long)value;
                break;
            default:
                figures.Gauges[kind] = value;
                break;
        }
    }

    /// <summary>Figures of one model.</summary>
    private sealed class ModelFigures
    {
        public ConcurrentDictionary<string, long> Outcomes { get; } = new(StringComparer.Ordinal);

        public SampleRing Duration { get; } = new();

        public SampleRing QueueWait { get; } = new();

        public SampleRing BatchCompute { get; } = new();

        public SampleRing BatchSize { get; } = new();

        public ConcurrentDictionary<string, long> Cache { get; } = new(StringComparer.Ordinal);

        public ConcurrentDictionary<InstrumentKind, double> Gauges { get; } = new();

        public ServingFigures ToDto(string model, bool enabled)
        {
            long Cached(string result) => Cache.TryGetValue(result, out var v) ? v : 0;
            double? Gauge(InstrumentKind kind) => Gauges.TryGetValue(kind, out var v) ? v : null;
            var hits = Cached("hit");
            var lookups = hits + Cached("miss") + Cached("join") + Cached("bypass");
            var sizes = BatchSize.Snapshot();
            return new ServingFigures
            {
                Model = model,
                Enabled = enabled,
                Requests = new SortedDictionary<string, long>(Outcomes, StringComparer.Ordinal),
                TotalRequests = Outcomes.Values.Sum(),
                LatencyMs = Percentiles.From(Duration.Snapshot(), 1000, Duration.Total),
                QueueWaitMs = Percentiles.From(QueueWait.Snapshot(), 1000, QueueWait.Total),
                BatchComputeMs = Percentiles.From(BatchCompute.Snapshot(), 1000, BatchCompute.Total),
                Batches = BatchSize.Total,
                MeanBatchSize = sizes.Length == 0 ? null : sizes.Average(),
                MaxBatchSize = sizes.Length == 0 ? null : sizes.Max(),
                BatchSizeHistogram = BatchHistogram(sizes),
                QueueDepth = Gauge(InstrumentKind.QueueDepth),
                Cache = lookups == 0 && Gauge(InstrumentKind.CacheEntries) is null ? null : new CacheFigures
                {
                    Hits = hits,
                    Misses = Cached("miss"),
                    Joins = Cached("join"),
                    Bypasses = Cached("bypass"),
                    HitRate = lookups == 0 ? null : (double)(hits + Cached("join")) / lookups,
                    Entries = Gauge(InstrumentKind.CacheEntries),
                    Bytes = Gauge(InstrumentKind.CacheBytes),
                    Evictions = Gauge(InstrumentKind.CacheEvictions),
                },
                Version = Gauge(InstrumentKind.Version),
            };
        }

        /// <summary>Batch sizes in power-of-two buckets: "1", "2-3", "4-7", ...</summary>
        private static List<HistogramBucket> BatchHistogram(double[] sizes)
        {
            var buckets = new List<HistogramBucket>();
            if (sizes.Length == 0)
            {
                return buckets;
            }

            var top = (int)Math.Log2(Math.Max(1, sizes.Max()));
            for (var b = 0; b <= top; b++)
            {
                var low = 1L << b;
                var high = (1L << (b + 1)) - 1;
                var count = sizes.LongCount(s => s >= low && s <= high);
                buckets.Add(new HistogramBucket(low == high ? $"{low}" : $"{low}-{high}", count));
            }

            return buckets;
        }
    }

    /// <summary>The most recent values of a histogram instrument, overwritten in a ring (no lock on the request path).</summary>
    private sealed class SampleRing
    {
        private const int Capacity = 2048;

        /// <summary>The values; slot = sequence number mod capacity.</summary>
        private readonly double[] _values = new double[Capacity];

        /// <summary>How many values were ever added.</summary>
        private long _count;

        public long Total => Interlocked.Read(ref _count);

        public void Add(double value)
        {
            var slot = (Interlocked.Increment(ref _count) - 1) & (Capacity - 1);
            _values[slot] = value;
        }

        /// <summary>Copies the retained values (a racing writer may replace one: the figures are approximate by design).</summary>
        public double[] Snapshot()
        {
            var n = (int)Math.Min(Total, Capacity);
            return _values.AsSpan(0, n).ToArray();
        }
    }
}
