using System.Diagnostics.Metrics;

namespace ModelInService.Monitoring;

/// <summary>The monitor's counters, created from the DI <see cref="IMeterFactory"/> (none without one).</summary>
internal sealed class MonitorMetrics
{
    private readonly Counter<long>? _records;
    private readonly Counter<long>? _dropped;
    private readonly Counter<long>? _events;
    private readonly Counter<long>? _handlerFailures;
    private readonly Counter<long>? _unsampled;
    private readonly KeyValuePair<string, object?> _model;
    private readonly string _modelName;

    /// <summary>The distances of the last evaluation, per window and feature (replaced whole, read by the gauge).</summary>
    private volatile IReadOnlyList<(TimeSpan Window, string Feature, double Distance)> _distances = [];

    public MonitorMetrics(IMeterFactory? meterFactory, string modelName)
    {
        _model = new("model", modelName);
        _modelName = modelName;
        if (meterFactory is null)
        {
            return;
        }

        var meter = meterFactory.Create(ModelMetricNames.Meter);
        _records = meter.CreateCounter<long>(ModelMetricNames.MonitorRecords, "{prediction}", "Predictions profiled by the monitor.");
        _dropped = meter.CreateCounter<long>(ModelMetricNames.MonitorDropped, "{prediction}", "Predictions not profiled because the monitor's queue was full.");
        _events = meter.CreateCounter<long>(ModelMetricNames.MonitorEvents, "{event}", "Monitor events raised (drift, quality).");
        _handlerFailures = meter.CreateCounter<long>(ModelMetricNames.MonitorHandlerFailures, "{failure}", "Monitor handlers that threw or timed out.");
        _unsampled = meter.CreateCounter<long>(ModelMetricNames.MonitorUnsampled, "{prediction}", "Predictions left out of profiling by the sampling budget (counted for volume).");
        meter.CreateObservableGauge(ModelMetricNames.MonitorDrift, ObserveDistances, "1", "The drift distance of each feature against the reference at the last evaluation, per window.");
    }

    /// <summary>Keeps the last evaluation's distances for the gauge (features without reference or data are left out).</summary>
    public void Evaluated(IReadOnlyList<(TimeSpan Window, string Feature, double Distance)> distances) => _distances = distances;

    public void Unsampled(long rows) => _unsampled?.Add(rows, _model);

    private IEnumerable<Measurement<double>> ObserveDistances()
    {
        foreach (var (window, feature, distance) in _distances)
        {
            yield return new Measurement<double>(distance, new("model", _modelName), new("feature", feature), new("window", FormatWindow(window)));
        }
    }

    /// <summary>A bounded, readable tag value: "15m", "1h", "30s".</summary>
    internal static string FormatWindow(TimeSpan window) =>
        window.TotalHours >= 1 && window.TotalHours == Math.Floor(window.TotalHours) ? $"{window.TotalHours:0}h"
        : window.TotalMinutes >= 1 && window.TotalMinutes == Math.Floor(window.TotalMinutes) ? $"{window.TotalMinutes:0}m"
        : $"{window.TotalSeconds:0}s";

    public void Recorded(long rows) => _records?.Add(rows, _model);

    public void Dropped(long rows) => _dropped?.Add(rows, _model);

    public void Event(ModelMonitorEventKind kind) => _events?.Add(1, _model, new("kind", kind.ToString()));

    public void HandlerFailed(bool timeout) => _handlerFailures?.Add(1, _model, new("reason", timeout ? "timeout" : "exception"));
}
