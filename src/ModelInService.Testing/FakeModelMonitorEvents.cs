using System.Globalization;

namespace ModelInService.Testing;

/// <summary>
/// Stands in for the model monitor's event side in unit tests of <see cref="IModelMonitorHandler"/> implementations:
/// builds <see cref="ModelMonitorEvent"/>s as the monitor's evaluation does, and delivers them to handlers as the
/// monitor does: every handler concurrently, each handler's events in order, under <see cref="HandlerTimeout"/>, a
/// handler that throws or times out isolated from the others. Records what was raised and which handlers failed.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class FakeModelMonitorEvents
{
    private readonly object _gate = new();
    private readonly List<IModelMonitorHandler> _handlers = [];
    private readonly List<ModelMonitorEvent> _raised = [];
    private readonly List<FakeHandlerFailure> _failures = [];
    private readonly TimeProvider _time;
    private TimeSpan _handlerTimeout = TimeSpan.FromSeconds(10);
    private IReadOnlyList<string> _versions = [];

    /// <summary>The longest timeout a <see cref="CancellationTokenSource"/> accepts.</summary>
    private static readonly TimeSpan MaxHandlerTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The model name the built events carry.</param>
    /// <param name="timeProvider">The clock for event timestamps and the handler timeout (e.g. a <c>FakeTimeProvider</c>); the system clock by default.</param>
    /// <exception cref="ArgumentException"><paramref name="modelName"/> is null or empty.</exception>
    public FakeModelMonitorEvents(string modelName = "fake", TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelName);
        ModelName = modelName;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the model name the built events carry.</summary>
    public string ModelName { get; }

    /// <summary>Gets or sets the window the built events say they cover.</summary>
    /// <value>Default 1 hour.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets the model versions the built events say the window holds (<see cref="ModelMonitorEvent.Versions"/>:
    /// SHA-256 prefixes, most rows first). The monitor fills it on every event (one version after a steady run; several
    /// when the window spans a reload or a rolling deploy), so set it to test a handler that reads it.
    /// </summary>
    /// <value>Default empty (no version known). The list is copied when set.</value>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    public IReadOnlyList<string> Versions
    {
        get => _versions;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            _versions = [.. value];
        }
    }

    /// <summary>Gets or sets how long each handler may take for the events of one <see cref="RaiseAsync(IReadOnlyList{ModelMonitorEvent}, CancellationToken)"/>, as the monitor's <c>MonitoringOptions.HandlerTimeout</c>.</summary>
    /// <value>Default 10 seconds (the monitor's default).</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive (the monitor's options validation refuses it too) or longer than a timer allows (about 49.7 days).</exception>
    public TimeSpan HandlerTimeout
    {
        get => _handlerTimeout;
        set
        {
            if (value <= TimeSpan.Zero || value > MaxHandlerTimeout)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, string.Create(CultureInfo.InvariantCulture,
                    $"HandlerTimeout is {value}; use a positive time up to {MaxHandlerTimeout.TotalDays:0.#} days (as MonitoringOptions.HandlerTimeout)."));
            }

            _handlerTimeout = value;
        }
    }

    /// <summary>Gets a copy of the events raised so far, in order.</summary>
    public IReadOnlyList<ModelMonitorEvent> Raised
    {
        get
        {
            lock (_gate)
            {
                return [.. _raised];
            }
        }
    }

    /// <summary>Gets a copy of the handler failures so far (an exception or a timeout), in the order they happened.</summary>
    public IReadOnlyList<FakeHandlerFailure> Failures
    {
        get
        {
            lock (_gate)
            {
                return [.. _failures];
            }
        }
    }

    /// <summary>Adds a handler that receives the events raised from now on.</summary>
    /// <param name="handler">The handler.</param>
    /// <returns>This instance.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="handler"/> is null.</exception>
    public FakeModelMonitorEvents AddHandler(IModelMonitorHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
        {
            _handlers.Add(handler);
        }

        return this;
    }

    /// <summary>Builds a <see cref="ModelMonitorEventKind.DriftDetected"/> event, worded as the monitor words it.</summary>
    /// <param name="feature">The feature.</param>
    /// <param name="distance">The distance observed.</param>
    /// <param name="threshold">The threshold it rose above.</param>
    /// <param name="metric">The distance's name, e.g. <c>NormalizedWasserstein</c>, <c>KolmogorovSmirnov</c>, <c>CramersV</c>.</param>
    /// <param name="sampleSize">The observations behind the distance.</param>
    /// <param name="lowerBound">The lower end of the distance's error bounds from the sketches, which the monitor's message shows: <c>NormalizedWasserstein 0.31 [0.29, 0.33] &gt; 0.2</c>; <paramref name="distance"/> by default.</param>
    /// <param name="upperBound">The upper end of those bounds; <paramref name="distance"/> by default.</param>
    /// <returns>The event (not raised).</returns>
    public ModelMonitorEvent DriftDetected(string feature, double distance, double threshold, string metric = "NormalizedWasserstein", long sampleSize = 1000, double? lowerBound = null, double? upperBound = null) =>
        Build(ModelMonitorEventKind.DriftDetected, feature, metric, distance, threshold, sampleSize,
            Invariant($"'{feature}' drifted: {metric} {distance:0.####} [{lowerBound ?? distance:0.####}, {upperBound ?? distance:0.####}] > {threshold:0.####} over the last {Window} (n = {sampleSize})"));

    /// <summary>Builds a <see cref="ModelMonitorEventKind.DriftResolved"/> event.</summary>
    /// <param name="feature">The feature.</param>
    /// <param name="distance">The distance observed.</param>
    /// <param name="exitThreshold">The exit threshold it fell below.</param>
    /// <param name="metric">The distance's name.</param>
    /// <param name="sampleSize">The observations behind the distance.</param>
    /// <returns>The event (not raised).</returns>
    public ModelMonitorEvent DriftResolved(string feature, double distance, double exitThreshold, string metric = "NormalizedWasserstein", long sampleSize = 1000) =>
        Build(ModelMonitorEventKind.DriftResolved, feature, metric, distance, exitThreshold, sampleSize,
            Invariant($"'{feature}' is stable again: {metric} {distance:0.####} < {exitThreshold:0.####} over the last {Window} (n = {sampleSize})"));

    /// <summary>
    /// Builds a <see cref="ModelMonitorEventKind.DatasetDriftDetected"/> event (no feature; rule <c>dataset</c>; value the
    /// drifted share), worded as the monitor words it: <c>3 of 4 input features drift (75 %; rule 50 %) over the last 01:00:00</c>.
    /// </summary>
    /// <param name="driftedFeatures">The input features that drift.</param>
    /// <param name="judgedFeatures">The input features judged (with a reference and enough data).</param>
    /// <param name="rule">The share that makes the dataset drift (<c>MonitoringOptions.DatasetDriftShare</c>).</param>
    /// <param name="sampleSize">The rows in the window.</param>
    /// <returns>The event (not raised).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="judgedFeatures"/> is not positive, or <paramref name="driftedFeatures"/> is not between 0 and it.</exception>
    public ModelMonitorEvent DatasetDriftDetected(int driftedFeatures, int judgedFeatures, double rule = 0.5, long sampleSize = 1000) =>
        Dataset(ModelMonitorEventKind.DatasetDriftDetected, driftedFeatures, judgedFeatures, rule, sampleSize);

    /// <summary>Builds a <see cref="ModelMonitorEventKind.DatasetDriftResolved"/> event, worded as the monitor words it.</summary>
    /// <param name="driftedFeatures">The input features that still drift.</param>
    /// <param name="judgedFeatures">The input features judged.</param>
    /// <param name="rule">The share that makes the dataset drift.</param>
    /// <param name="sampleSize">The rows in the window.</param>
    /// <returns>The event (not raised).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="judgedFeatures"/> is not positive, or <paramref name="driftedFeatures"/> is not between 0 and it.</exception>
    public ModelMonitorEvent DatasetDriftResolved(int driftedFeatures, int judgedFeatures, double rule = 0.5, long sampleSize = 1000) =>
        Dataset(ModelMonitorEventKind.DatasetDriftResolved, driftedFeatures, judgedFeatures, rule, sampleSize);

    /// <summary>Builds a <see cref="ModelMonitorEventKind.QualityViolation"/> event.</summary>
    /// <param name="rule">The rule: <c>missing</c>, <c>range</c>, <c>unseen</c>, <c>volume</c> or <c>schema</c>.</param>
    /// <param name="feature">The feature, or null for a dataset-level rule (volume, schema).</param>
    /// <param name="observed">The observed value, e.g. the share of values meeting the rule.</param>
    /// <param name="expected">The threshold or <c>mostly</c> it was compared with.</param>
    /// <param name="sampleSize">The observations behind the value.</param>
    /// <returns>The event (not raised).</returns>
    public ModelMonitorEvent QualityViolation(string rule, string? feature, double observed, double expected, long sampleSize = 1000) =>
        Build(ModelMonitorEventKind.QualityViolation, feature, rule, observed, expected, sampleSize,
            Invariant($"{(feature is null ? "" : $"'{feature}' ")}{rule}: {observed:0.####} vs {expected:0.####} over the last {Window} (n = {sampleSize})"));

    /// <summary>Builds a <see cref="ModelMonitorEventKind.QualityResolved"/> event.</summary>
    /// <param name="rule">The rule.</param>
    /// <param name="feature">The feature, or null for a dataset-level rule.</param>
    /// <param name="observed">The observed value.</param>
    /// <param name="expected">The threshold it was compared with.</param>
    /// <param name="sampleSize">The observations behind the value.</param>
    /// <returns>The event (not raised).</returns>
    public ModelMonitorEvent QualityResolved(string rule, string? feature, double observed, double expected, long sampleSize = 1000) =>
        Build(ModelMonitorEventKind.QualityResolved, feature, rule, observed, expected, sampleSize,
            Invariant($"{(feature is null ? "" : $"'{feature}' ")}{rule} holds again: {observed:0.####} vs {expected:0.####} over the last {Window} (n = {sampleSize})"));

    /// <summary>Raises events: records them and delivers them to every handler.</summary>
    /// <param name="events">The events, delivered in this order to each handler.</param>
    /// <returns>A task that completes when every handler finished, failed or timed out.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="events"/> or one of them is null (nothing is raised).</exception>
    public Task RaiseAsync(params ModelMonitorEvent[] events) => RaiseAsync(events, CancellationToken.None);

    /// <summary>Raises events: records them and delivers them to every handler.</summary>
    /// <param name="events">The events, delivered in this order to each handler.</param>
    /// <param name="cancellationToken">Passed on to the handlers (with the timeout); canceling is not a handler failure.</param>
    /// <returns>A task that completes when every handler finished, failed or timed out.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="events"/> or one of them is null (nothing is raised).</exception>
    public async Task RaiseAsync(IReadOnlyList<ModelMonitorEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i] is null)
            {
                // The monitor never raises a null event: refuse it before recording or delivering anything.
                throw new ArgumentNullException(nameof(events), string.Create(CultureInfo.InvariantCulture, $"events[{i}] is null: raise events built by this class (DriftDetected, QualityViolation, ...) or new ModelMonitorEvent {{ ... }}."));
            }
        }

        IModelMonitorHandler[] handlers;
        lock (_gate)
        {
            _raised.AddRange(events);
            handlers = [.. _handlers];
        }

        if (events.Count == 0 || handlers.Length == 0)
        {
            return;
        }

        await Task.WhenAll(handlers.Select(h => RunHandlerAsync(h, events, cancellationToken))).ConfigureAwait(false);
    }

    private async Task RunHandlerAsync(IModelMonitorHandler handler, IReadOnlyList<ModelMonitorEvent> events, CancellationToken cancellationToken)
    {
        await Task.Yield();
        using var timeout = new CancellationTokenSource(HandlerTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await RunAll(handler, events, linked.Token).WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Canceled by the caller: not a handler failure.
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            AddFailure(new FakeHandlerFailure(handler, null));
        }
#pragma warning disable CA1031 // Isolation, as in the monitor: one failing handler must not stop the others.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            AddFailure(new FakeHandlerFailure(handler, ex));
        }

        static async Task RunAll(IModelMonitorHandler handler, IReadOnlyList<ModelMonitorEvent> events, CancellationToken token)
        {
            foreach (var e in events)
            {
                await handler.HandleAsync(e, token).ConfigureAwait(false);
            }
        }
    }

    private void AddFailure(FakeHandlerFailure failure)
    {
        lock (_gate)
        {
            _failures.Add(failure);
        }
    }

    /// <summary>The monitor's dataset event (ModelMonitor.Evaluation.cs in the core), with its message.</summary>
    private ModelMonitorEvent Dataset(ModelMonitorEventKind kind, int driftedFeatures, int judgedFeatures, double rule, long sampleSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(judgedFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(driftedFeatures);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(driftedFeatures, judgedFeatures);
        var share = (double)driftedFeatures / judgedFeatures;
        return Build(kind, null, "dataset", share, rule, sampleSize,
            Invariant($"{driftedFeatures} of {judgedFeatures} input features drift ({share:P0}; rule {rule:P0}) over the last {Window}"));
    }

    private ModelMonitorEvent Build(ModelMonitorEventKind kind, string? feature, string rule, double value, double threshold, long sampleSize, string message) => new()
    {
        ModelName = ModelName,
        Kind = kind,
        Window = Window,
        Feature = feature,
        Rule = rule,
        Value = value,
        Threshold = threshold,
        SampleSize = sampleSize,
        Timestamp = _time.GetUtcNow(),
        Message = message,
        Versions = _versions,
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A handler that failed while <see cref="FakeModelMonitorEvents"/> delivered events to it.</summary>
/// <param name="Handler">The handler.</param>
/// <param name="Exception">What it threw, or <see langword="null"/> when it timed out.</param>
public sealed record FakeHandlerFailure(IModelMonitorHandler Handler, Exception? Exception)
{
    /// <summary>Gets whether the handler did not finish within <see cref="FakeModelMonitorEvents.HandlerTimeout"/>.</summary>
    public bool TimedOut => Exception is null;
}
