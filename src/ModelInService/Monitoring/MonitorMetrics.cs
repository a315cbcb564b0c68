using System.Diagnostics.Metrics;

namespace ModelInService.Monitoring;

/// <summary>Names of the monitor's instruments (meter <see cref="MeterName"/>).</summary>
internal static class MonitorInstruments
{
    public const string MeterName = "ModelInService";

    public const string Records = "model_in_service.monitor.records";

    public const string Dropped = "model_in_service.monitor.dropped";

    public const string Events = "model_in_service.monitor.events";

    public const string HandlerFailures = "model_in_service.monitor.handler.failures";
}

/// <summary>The monitor's counters, created from the DI <see cref="IMeterFactory"/> (none without one).</summary>
internal sealed class MonitorMetrics
{
    private readonly Counter<long>? _records;
    private readonly Counter<long>? _dropped;
    private readonly Counter<long>? _events;
    private readonly Counter<long>? _handlerFailures;
    private readonly KeyValuePair<string, object?> _model;

    public MonitorMetrics(IMeterFactory? meterFactory, string modelName)
    {
        _model = new("model", modelName);
        if (meterFactory is null)
        {
            return;
        }

        var meter = meterFactory.Create(MonitorInstruments.MeterName);
        _records = meter.CreateCounter<long>(MonitorInstruments.Records, "{prediction}", "Predictions profiled by the monitor.");
        _dropped = meter.CreateCounter<long>(MonitorInstruments.Dropped, "{prediction}", "Predictions not profiled because the monitor's queue was full.");
        _events = meter.CreateCounter<long>(MonitorInstruments.Events, "{event}", "Monitor events raised (drift, quality).");
        _handlerFailures = meter.CreateCounter<long>(MonitorInstruments.HandlerFailures, "{failure}", "Monitor handlers that threw or timed out.");
    }

    public void Recorded(long rows) => _records?.Add(rows, _model);

    public void Dropped(long rows) => _dropped?.Add(rows, _model);

    public void Event(ModelMonitorEventKind kind) => _events?.Add(1, _model, new("kind", kind.ToString()));

    public void HandlerFailed(bool timeout) => _handlerFailures?.Add(1, _model, new("reason", timeout ? "timeout" : "exception"));
}
