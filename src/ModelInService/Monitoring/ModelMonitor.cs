using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using ModelInService.Sketches;

namespace ModelInService.Monitoring;

/// <summary>
/// One model's monitor. The request path (<see cref="RecorderBase"/>) fills blocks; a single consumer task decodes
/// them into the interval ring under <see cref="_state"/>; evaluation merges intervals into windows, compares them
/// with the reference, applies hysteresis and raises events to the handlers outside the lock.
/// </summary>
[DebuggerDisplay("Monitor {ModelName}: {_catalog.Count} features")]
internal sealed partial class ModelMonitor : IModelMonitor, IDisposable
{
    /// <summary>How long (ms) an outcome for an id not decoded yet waits for the consumer to decode the queued blocks.</summary>
    private const int EarlyOutcomeWaitMilliseconds = 1000;

    /// <summary>Guards everything below that the consumer, evaluation, snapshots and outcomes share.</summary>
    private readonly Lock _state = new();

    private readonly MonitoringOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MonitorMetrics _metrics;
    private readonly RecorderBase _recorder;
    private readonly IReferenceSource _referenceSource;

    /// <summary>Resolves the handlers at dispatch (lazily, so a handler may depend on the monitor).</summary>
    private readonly Func<IEnumerable<IModelMonitorHandler>> _handlers;

    /// <summary>Feature names and ids of this monitor. Guarded by <see cref="_state"/>.</summary>
    private readonly FeatureCatalog _catalog = new();

    /// <summary>Decodes blocks into profiles; holds per-slot caches. Guarded by <see cref="_state"/>.</summary>
    private readonly RowDecoder _decoder;

    private readonly ProfileFactory _factory;

    /// <summary>The retained intervals. Guarded by <see cref="_state"/>.</summary>
    private readonly IntervalRing _ring;

    private readonly long _intervalTicks;

    /// <summary>Hysteresis state per window length. Guarded by <see cref="_state"/>.</summary>
    private readonly Dictionary<TimeSpan, WindowState> _windowStates = [];

    private readonly OutcomeJoin _outcomes;
    private readonly EvaluationStore _store;

    /// <summary>The consumer loop; ends when the recorder's channel completes.</summary>
    private readonly Task _consumer;

    /// <summary>The reference and its calibration, replaced together. Guarded by <see cref="_state"/> for writes.</summary>
    private volatile ReferenceState? _reference;

    private long _recorded;
    private long _late;
    private long _droppedSeen;
    private long _schemaViolations;
    private int _disposed;

    public ModelMonitor(
        string modelName,
        MonitoringOptions options,
        RecorderBase recorder,
        IReferenceSource referenceSource,
        TimeProvider time,
        Func<IEnumerable<IModelMonitorHandler>> handlers,
        ILogger logger,
        MonitorMetrics metrics)
    {
        ModelName = modelName;
        _options = options;
        _recorder = recorder;
        _referenceSource = referenceSource;
        _time = time;
        _handlers = handlers;
        _logger = logger;
        _metrics = metrics;
        _intervalTicks = options.IntervalLength.Ticks;
        _factory = new ProfileFactory(options.SketchK, options.Seed);
        _ring = new IntervalRing((int)Math.Clamp((options.Retention.Ticks + _intervalTicks - 1) / _intervalTicks, 1, 10_000));
        _decoder = new RowDecoder(recorder.Schema, _catalog, options);
        _outcomes = new OutcomeJoin(options.MaxPendingOutcomes);
        _store = new EvaluationStore(options.EvaluationStoreCapacity, options.Seed);

        // The consumer is a long-lived loop on the thread pool, like the batcher's workers; it never runs on a request thread.
        _consumer = Task.Run(ConsumeAsync);
    }

    public string ModelName { get; }

    public MonitoringOptions Options => _options;

    public MonitorReference? Reference => _reference?.Reference;

    public MonitorStatistics Statistics => new(
        Interlocked.Read(ref _recorded),
        _recorder.DroppedTotal,
        Interlocked.Read(ref _late),
        Interlocked.Read(ref _schemaViolations),
        _recorder.Reader.Count,
        _recorder.UnsampledTotal);

    /// <summary>The recorder that the model host calls (an <c>IPredictionRecorder&lt;TInput, TOutput&gt;</c>).</summary>
    public object Recorder => _recorder;

    internal Task Consumer => _consumer;

    public void SetReference(MonitorReference? reference)
    {
        if (reference is not null)
        {
            WarnOnMismatch(reference);
        }

        var state = reference is null ? null : new ReferenceState(reference, Calibrate(reference));
        lock (_state)
        {
            // Open alarms carry over and are judged against the new reference with the usual hysteresis: clearing them
            // left an alert open forever when the new reference made the data normal (no resolved event came), and a
            // feature still drifting raised a second detected event for the same alarm. One no longer judged (the new
            // reference lacks it, or there is none) is closed at the next evaluation, saying why.
            _reference = state;
        }
    }

    public async Task<MonitorReference> BuildReferenceAsync<TInput>(IEnumerable<TInput> data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (_referenceSource is not IReferenceSource<TInput> source)
        {
            throw new ArgumentException($"Model '{ModelName}' takes {_referenceSource.InputType.Name} inputs, not {typeof(TInput).Name}.", nameof(data));
        }

        var reference = await source.BuildReferenceAsync(data, _options, ModelName, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        LogReferenceBuilt(reference);
        return reference;
    }

    public MonitorReference FreezeReference(TimeSpan window)
    {
        var (first, last) = WindowRange(window);
        lock (_state)
        {
            FoldDrops();
            var catalog = new FeatureCatalog();
            foreach (var feature in _catalog.All)
            {
                catalog.GetOrAdd(feature.Name, feature.Role, feature.Kind);
            }

            var total = new IntervalProfile(0);
            var chunks = new List<IntervalProfile>();
            var covered = 0;
            for (var index = Math.Max(first, _ring.Oldest); index <= last; index++)
            {
                covered++;
                if (_ring.Get(index) is { } interval)
                {
                    var chunk = new IntervalProfile(index);
                    chunk.MergeFrom(interval, catalog, _factory);
                    total.MergeFrom(interval, catalog, _factory);
                    chunks.Add(chunk);
                }
            }

            var minutes = covered * TimeSpan.FromTicks(_intervalTicks).TotalMinutes;
            double? rate = covered > 0 ? total.Predictions / minutes : null;
            return new MonitorReference(catalog, total, chunks, "production", ModelName, _time.GetUtcNow(), rate);
        }
    }

    public MonitorReport GetReport(TimeSpan window)
    {
        WindowRange(window, null);
        lock (_state)
        {
            FoldDrops();
            return Evaluate(window, update: false, events: null);
        }
    }

    public MonitorReport GetReport(TimeSpan window, DateTimeOffset endTime)
    {
        WindowRange(window, endTime);
        lock (_state)
        {
            FoldDrops();
            return Evaluate(window, update: false, events: null, endTime);
        }
    }

    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        if (_recorder.TakeCurrent() is { } partial)
        {
            await _recorder.WriteAsync(partial, cancellationToken).ConfigureAwait(false);
        }

        var barrier = new RecordBlock(0, 0) { Barrier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await _recorder.WriteAsync(barrier, cancellationToken).ConfigureAwait(false);
        await barrier.Barrier.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        lock (_state)
        {
            FoldDrops();
        }
    }

    public async Task<IReadOnlyList<ModelMonitorEvent>> EvaluateAsync(CancellationToken cancellationToken = default)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        var events = new List<ModelMonitorEvent>();
        var distances = new List<(TimeSpan, string, double)>();
        lock (_state)
        {
            foreach (var window in _options.Windows)
            {
                foreach (var feature in Evaluate(window, update: true, events).Features)
                {
                    if (!double.IsNaN(feature.Distance.Value))
                    {
                        distances.Add((window, feature.Name, feature.Distance.Value));
                    }
                }
            }
        }

        _metrics.Evaluated(distances);
        if (RaisesEvents)
        {
            await RaiseAsync(events, cancellationToken).ConfigureAwait(false);
        }

        return events;
    }

    public MonitorSnapshot ExportSnapshot()
    {
        lock (_state)
        {
            FoldDrops();
            var catalog = new FeatureCatalog();
            foreach (var feature in _catalog.All)
            {
                catalog.GetOrAdd(feature.Name, feature.Role, feature.Kind);
            }

            var intervals = new List<IntervalProfile>();
            foreach (var interval in _ring.Retained())
            {
                var copy = new IntervalProfile(interval.Index);
                copy.MergeFrom(interval, catalog, _factory);
                intervals.Add(copy);
            }

            return new MonitorSnapshot(ModelName, _options.IntervalLength, _time.GetUtcNow(), catalog, intervals);
        }
    }

    public bool RecordOutcome(string predictionId, double actual)
    {
        ArgumentNullException.ThrowIfNull(predictionId);
        if (!double.IsFinite(actual))
        {
            // Neither the id nor the value in the text: exceptions get logged, and NaN or infinity would poison the
            // error sums (a snapshot cannot hold them, a report would show them).
            throw new ArgumentOutOfRangeException(nameof(actual), "The actual value must be a finite number (not NaN or infinity).");
        }

        return Join(predictionId, actual, null);
    }

    public bool RecordOutcome(string predictionId, string actual)
    {
        ArgumentNullException.ThrowIfNull(predictionId);
        ArgumentNullException.ThrowIfNull(actual);
        return Join(predictionId, double.NaN, actual);
    }

    /// <summary>
    /// Joins an outcome, first decoding what was recorded but not decoded yet when the id is unknown: the partly
    /// filled block inline (at most one block of <see cref="RecordBlock.MaxRows"/> rows, decoding that would happen
    /// anyway), then, when full blocks are still queued, waiting (at most <see cref="EarlyOutcomeWaitMilliseconds"/>) until the
    /// consumer has decoded them. So an outcome recorded right after its prediction joins.
    /// </summary>
    private bool Join(string predictionId, double actual, string? label)
    {
        if (predictionId.Length > PredictionIds.MaxLength)
        {
            return false; // never kept (see Process)
        }

        var key = PredictionIds.Key(predictionId);
        lock (_state)
        {
            if (_outcomes.Contains(key) || (DecodeCurrentLocked() && _outcomes.Contains(key)))
            {
                return JoinLocked(key, actual, label);
            }
        }

        if (_recorder.Reader.Count == 0 || Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        var barrier = new RecordBlock(0, 0) { Barrier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        if (!_recorder.TryWrite(barrier) || !barrier.Barrier.Task.Wait(EarlyOutcomeWaitMilliseconds))
        {
            return false;
        }

        lock (_state)
        {
            return JoinLocked(key, actual, label);
        }
    }

    /// <summary>Decodes the recorder's partly filled block, if any, on this thread. Under <see cref="_state"/>.</summary>
    /// <returns>Whether there was a block.</returns>
    private bool DecodeCurrentLocked()
    {
        if (Volatile.Read(ref _disposed) != 0 || _recorder.TakeCurrent() is not { } block)
        {
            return false;
        }

        try
        {
            Process(block);
            _metrics.Recorded(block.Rows);
        }
#pragma warning disable CA1031 // As in the consumer: a bug in decoding must not fail the caller; the block is logged and skipped.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            MonitorLog.ConsumerFailed(_logger, ModelName, ex);
        }

        _recorder.Return(block);
        return true;
    }

    /// <summary>
    /// Joins an outcome (a finite number, or a label when <paramref name="label"/> is set) to its pending prediction.
    /// A regression outcome whose error, squared error or interval sums would not be finite is refused (false; the
    /// prediction stays pending), so no interval ever holds a sum a snapshot cannot write. Under <see cref="_state"/>.
    /// </summary>
    private bool JoinLocked(UInt128 predictionId, double actual, string? label)
    {
        if (!_outcomes.TryPeek(predictionId, out var pending))
        {
            return false;
        }

        if (pending.Interval <= CurrentInterval() - _ring.Capacity || _ring.Get(pending.Interval) is not { } interval)
        {
            // The prediction's interval left the retention: counting the outcome in the current interval would judge
            // that window by predictions it never made. Refused, and forgotten (it can never count).
            _outcomes.TryTake(predictionId, out _);
            return false;
        }

        var stats = interval.Outcomes;
        if (pending.IsClassification)
        {
            var correct = label is not null
                ? string.Equals(pending.Label, label, StringComparison.Ordinal)
                : double.IsNaN(pending.Value)
                    ? pending.Label == actual.ToString(CultureInfo.InvariantCulture)
                    : pending.Value == actual;
            stats.AddClassification(correct, pending.Top);
        }
        else if (label is null || double.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out actual))
        {
            var error = pending.Value - actual;
            if (!OutcomeStats.CanAddRegression(stats, error))
            {
                MonitorLog.OutcomeRefused(_logger, ModelName);
                return false;
            }

            stats.AddRegression(error);
        }

        _outcomes.TryTake(predictionId, out _);
        _store.SetOutcome(predictionId, label ?? actual.ToString(CultureInfo.InvariantCulture));
        return true;
    }

    public IReadOnlyList<EvaluationSample> GetEvaluationSamples()
    {
        lock (_state)
        {
            return _store.Export();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _recorder.Complete();
        }
    }

    private long CurrentInterval() => _time.GetUtcNow().UtcTicks / _intervalTicks;

    /// <summary>The whole intervals of a window ending at the last complete interval.</summary>
    private (long First, long Last) WindowRange(TimeSpan window, DateTimeOffset? end = null)
    {
        var count = window.Ticks / _intervalTicks;
        if (window <= TimeSpan.Zero || count < 1 || count > _ring.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, $"The window must cover 1 to {_ring.Capacity} whole intervals of {_options.IntervalLength}.");
        }

        var current = CurrentInterval();
        var last = current - 1;
        if (end is { } at)
        {
            last = Math.Min(last, (at.UtcTicks / _intervalTicks) - 1);
            if (last - count + 1 <= current - 1 - _ring.Capacity)
            {
                throw new ArgumentOutOfRangeException(nameof(end), end, $"The window of {window} ending at {at:O} starts before the retention of {_options.Retention}.");
            }
        }

        return (last - count + 1, last);
    }

    private async Task ConsumeAsync()
    {
        var reader = _recorder.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var block))
            {
                if (block.Barrier is { } barrier)
                {
                    barrier.TrySetResult();
                    continue;
                }

                try
                {
                    lock (_state)
                    {
                        Process(block);
                    }

                    _metrics.Recorded(block.Rows);
                }
#pragma warning disable CA1031 // A bug in decoding must not stop monitoring; the block is logged and skipped.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    MonitorLog.ConsumerFailed(_logger, ModelName, ex);
                }

                _recorder.Return(block);
            }
        }
    }

    /// <summary>Decodes a block into its interval. Under <see cref="_state"/>.</summary>
    private void Process(RecordBlock block)
    {
        Interlocked.Add(ref _schemaViolations, block.SchemaViolations);
        if (_ring.GetForWrite(block.Interval) is not { } interval)
        {
            Interlocked.Add(ref _late, block.Rows + block.Unsampled);
            return;
        }

        interval.Unsampled += block.Unsampled;
        if (block.Unsampled > 0)
        {
            _metrics.Unsampled(block.Unsampled);
        }

        Action<RowFacts>? observe = null;
        var longIds = 0;
        if (_recorder.Schema.HasId || _store.Enabled)
        {
            var timestamp = new DateTimeOffset(block.Interval * _intervalTicks, TimeSpan.Zero);
            observe = facts =>
            {
                var key = default(UInt128);
                if (facts.Id is { } id)
                {
                    if (id.Length > PredictionIds.MaxLength)
                    {
                        // Memory is bounded by id count, not bytes: an id this long is not kept (nor joinable).
                        facts.Id = null;
                        longIds++;
                    }
                    else
                    {
                        key = PredictionIds.Key(id);
                        if (facts.HasPrediction)
                        {
                            _outcomes.Add(key, new PendingOutcome(block.Interval, facts.IsClassification, facts.Label, facts.Value, facts.Top));
                        }
                    }
                }

                _store.Offer(facts, key, timestamp, () => _decoder.ReadInputs(block, facts.NumberStart, facts.LabelStart));
            };
        }

        _decoder.Apply(block, interval, _factory, observe);
        for (var i = 0; i < block.VersionCount; i++)
        {
            if (block.VersionAt(i) is { Length: > 0 } version)
            {
                interval.Versions.Add(version, block.VersionRowsAt(i));
            }
        }

        Interlocked.Add(ref _recorded, block.Rows);
        if (longIds > 0)
        {
            MonitorLog.PredictionIdsTooLong(_logger, ModelName, longIds, PredictionIds.MaxLength);
        }
    }

    /// <summary>Moves the recorder's drop counts into their intervals. Under <see cref="_state"/>.</summary>
    private void FoldDrops()
    {
        if (_recorder.TakeDrops() is not { } drops)
        {
            return;
        }

        long total = 0;
        foreach (var (index, (rows, violations, unsampled)) in drops)
        {
            total += rows;
            Interlocked.Add(ref _schemaViolations, violations);
            if (_ring.GetForWrite(index) is { } interval)
            {
                interval.Dropped += rows;
                interval.SchemaViolations += violations;
                interval.Unsampled += unsampled;
            }
        }

        if (total > 0)
        {
            _droppedSeen += total;
            _metrics.Dropped(total);
            MonitorLog.RecordingsDropped(_logger, ModelName, total);
        }
    }

    private void Log(ModelMonitorEvent e)
    {
        switch (e.Kind)
        {
            case ModelMonitorEventKind.DriftDetected:
                MonitorLog.DriftDetected(_logger, ModelName, e.Feature!, e.Window, e.Rule, e.Value, e.Threshold, e.SampleSize);
                break;
            case ModelMonitorEventKind.DriftResolved:
                MonitorLog.DriftResolved(_logger, ModelName, e.Feature!, e.Window, e.Rule, e.Value, e.Threshold);
                break;
            case ModelMonitorEventKind.DatasetDriftDetected:
                MonitorLog.DatasetDriftDetected(_logger, ModelName, e.Window, e.Value, e.Threshold);
                break;
            case ModelMonitorEventKind.DatasetDriftResolved:
                MonitorLog.DatasetDriftResolved(_logger, ModelName, e.Window, e.Value);
                break;
            case ModelMonitorEventKind.QualityViolation:
                MonitorLog.QualityViolation(_logger, ModelName, e.Rule, e.Window, e.Message);
                break;
            default:
                MonitorLog.QualityResolved(_logger, ModelName, e.Rule, e.Window, e.Message);
                break;
        }
    }

    /// <summary>
    /// Runs every handler concurrently, each off the caller's thread, under a linked token that is canceled at the
    /// timeout; a handler that ignores its token is abandoned at the timeout (WaitAsync), so it cannot hold the others
    /// or the next evaluation. Modelled on aspnetcore's HealthCheckPublisherHostedService.
    /// </summary>
    private async Task DispatchAsync(IReadOnlyList<ModelMonitorEvent> events, CancellationToken cancellationToken)
    {
        var handlers = _handlers().ToArray();
        if (handlers.Length == 0)
        {
            return;
        }

        var tasks = new Task[handlers.Length];
        for (var i = 0; i < handlers.Length; i++)
        {
            tasks[i] = RunHandlerAsync(handlers[i], events, cancellationToken);
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task RunHandlerAsync(IModelMonitorHandler handler, IReadOnlyList<ModelMonitorEvent> events, CancellationToken cancellationToken)
    {
        // Leave the evaluating thread (possibly the timer's) before running user code.
        await Task.Yield();
        var name = handler.GetType().Name;
        // The timeout starts before the handler runs; waiting on the linked token (not only passing it) abandons a
        // handler that ignores its token.
        using var timeout = new CancellationTokenSource(_options.HandlerTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await RunAll(handler, events, linked.Token).WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: not a handler failure.
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            _metrics.HandlerFailed(timeout: true);
            MonitorLog.HandlerTimedOut(_logger, ModelName, name, _options.HandlerTimeout);
        }
#pragma warning disable CA1031 // Isolation: one failing handler must not stop the others.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _metrics.HandlerFailed(timeout: false);
            MonitorLog.HandlerFailed(_logger, ModelName, name, ex);
        }

        static async Task RunAll(IModelMonitorHandler handler, IReadOnlyList<ModelMonitorEvent> events, CancellationToken token)
        {
            foreach (var e in events)
            {
                await handler.HandleAsync(e, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The reference with its calibrated distance statistics per feature.</summary>
    private sealed record ReferenceState(MonitorReference Reference, IReadOnlyDictionary<string, (double Mean, double Std, int Chunks)> Calibration);

    /// <summary>Hysteresis state of one window. Guarded by <see cref="_state"/>.</summary>
    /// <summary>The drifted features and failing quality rules the last evaluation left, over every window (for health checks).</summary>
    internal (SortedSet<string> Drifted, SortedSet<string> Violating, bool DatasetDrift) CurrentStatus()
    {
        var drifted = new SortedSet<string>(StringComparer.Ordinal);
        var violating = new SortedSet<string>(StringComparer.Ordinal);
        var dataset = false;
        lock (_state)
        {
            foreach (var state in _windowStates.Values)
            {
                drifted.UnionWith(state.Drifted);
                violating.UnionWith(state.Violating);
                dataset |= state.DatasetDrift;
            }
        }

        return (drifted, violating, dataset);
    }

    private sealed class WindowState
    {
        public HashSet<string> Drifted { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Violating { get; } = new(StringComparer.Ordinal);

        public bool DatasetDrift { get; set; }

        /// <summary>Whether the window spanned several model versions at the last evaluation (logged on the change to true).</summary>
        public bool MixedVersions { get; set; }
    }
}

/// <summary>Builds a reference from training data for a model's input type (implemented by the typed recorder part).</summary>
internal interface IReferenceSource
{
    Type InputType { get; }
}

/// <inheritdoc />
internal interface IReferenceSource<in TInput> : IReferenceSource
{
    Task<MonitorReference> BuildReferenceAsync(IEnumerable<TInput> data, MonitoringOptions options, string modelName, DateTimeOffset now, CancellationToken cancellationToken);
}
