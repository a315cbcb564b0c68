namespace ModelInService;

/// <summary>Receives the monitor's events. Register any number as singletons (<c>services.AddSingleton&lt;IModelMonitorHandler, MyHandler&gt;()</c>).</summary>
/// <remarks>Handlers run concurrently with each other, each under <c>MonitoringOptions.HandlerTimeout</c>; one that throws or hangs does not affect the others. Implementations must be thread-safe.</remarks>
public interface IModelMonitorHandler
{
    /// <summary>Handles one event.</summary>
    /// <param name="monitorEvent">The event.</param>
    /// <param name="cancellationToken">Canceled at the timeout or at shutdown.</param>
    /// <returns>A task that completes when the event is handled.</returns>
    Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken);
}

/// <summary>What changed.</summary>
public enum ModelMonitorEventKind
{
    /// <summary>A feature's distance rose above its threshold.</summary>
    DriftDetected,

    /// <summary>A drifted feature's distance fell below its exit threshold.</summary>
    DriftResolved,

    /// <summary>The share of drifted features reached <c>MonitoringOptions.DatasetDriftShare</c>.</summary>
    DatasetDriftDetected,

    /// <summary>The share of drifted features fell below the dataset rule.</summary>
    DatasetDriftResolved,

    /// <summary>A data-quality rule failed.</summary>
    QualityViolation,

    /// <summary>A failed data-quality rule holds again.</summary>
    QualityResolved,
}

/// <summary>An event raised by an evaluation, with the numbers behind it.</summary>
/// <remarks>Immutable and thread-safe.</remarks>
public sealed class ModelMonitorEvent
{
    /// <summary>Gets the model name.</summary>
    public required string ModelName { get; init; }

    /// <summary>Gets what changed.</summary>
    public required ModelMonitorEventKind Kind { get; init; }

    /// <summary>Gets the window length the evaluation covered.</summary>
    public required TimeSpan Window { get; init; }

    /// <summary>Gets the feature, or null for dataset-level events (dataset drift, volume, schema).</summary>
    public string? Feature { get; init; }

    /// <summary>Gets the distance (drift events) or the rule (<c>missing</c>, <c>range</c>, <c>unseen</c>, <c>volume</c>, <c>schema</c>, <c>dataset</c>).</summary>
    public required string Rule { get; init; }

    /// <summary>Gets the observed value: a distance, the share of values meeting a rule, a relative rate change, or the share of drifted features.</summary>
    public required double Value { get; init; }

    /// <summary>Gets the threshold or <c>mostly</c> the value was compared with.</summary>
    public required double Threshold { get; init; }

    /// <summary>Gets the number of observations behind the value.</summary>
    public required long SampleSize { get; init; }

    /// <summary>Gets when the evaluation ran.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Gets a one-line description.</summary>
    public required string Message { get; init; }

    /// <summary>
    /// Gets the model versions (the SHA-256 prefixes of <c>ModelVersionInfo.Sha256</c>) whose answers the evaluated
    /// window holds, most rows first; empty when none is known. More than one means the window spans a reload or a
    /// rolling deploy, so an output's drift may come from the model change rather than the data.
    /// </summary>
    public IReadOnlyList<string> Versions { get; init; } = [];

    /// <inheritdoc />
    public override string ToString() => Message;
}
