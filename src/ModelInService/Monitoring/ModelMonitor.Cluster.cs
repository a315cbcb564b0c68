namespace ModelInService.Monitoring;

/// <summary>
/// Hooks for a cluster monitor (ModelInService.Redis): export the closed intervals to publish, build a view that
/// holds the merge of every replica's intervals, evaluate it without raising, raise separately once the evaluation is
/// committed, and move the hysteresis state between replicas. Nothing here changes a monitor that is not clustered.
/// </summary>
internal sealed partial class ModelMonitor
{
    /// <summary>
    /// Whether <see cref="EvaluateAsync"/> logs the events and raises them to the handlers (default). A clustered
    /// replica's own monitor keeps evaluating (for its local report and health) but leaves raising to the replica that
    /// holds the cluster lease.
    /// </summary>
    internal bool RaisesEvents { get; set; } = true;

    /// <summary>The index of the interval being recorded now (UTC ticks / interval length).</summary>
    internal long CurrentIntervalIndex => CurrentInterval();

    /// <summary>The retained intervals with indexes in [<paramref name="first"/>, <paramref name="last"/>], as a snapshot (copies).</summary>
    internal MonitorSnapshot ExportIntervals(long first, long last)
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
                if (interval.Index >= first && interval.Index <= last)
                {
                    var copy = new IntervalProfile(interval.Index);
                    copy.MergeFrom(interval, catalog, _factory);
                    intervals.Add(copy);
                }
            }

            return new MonitorSnapshot(ModelName, _options.IntervalLength, _time.GetUtcNow(), catalog, intervals);
        }
    }

    /// <summary>
    /// A monitor of the same model and options that records nothing itself: it holds what is merged into it (every
    /// replica's intervals). It raises to the same handlers, through <see cref="RaiseAsync"/> only; its evaluations
    /// leave no metrics (the replica's own monitor reports those).
    /// </summary>
    internal ModelMonitor CreateView()
    {
        var recorder = _recorder.CreateEmpty(_options, _time);
        return new ModelMonitor(ModelName, _options, recorder, (IReferenceSource)recorder, _time, _handlers, _logger, new MonitorMetrics(null, ModelName))
        {
            RaisesEvents = false,
        };
    }

    /// <summary>Evaluates every configured window, moving the hysteresis state, and returns the events without raising them.</summary>
    internal IReadOnlyList<ModelMonitorEvent> EvaluateWindows()
    {
        var events = new List<ModelMonitorEvent>();
        lock (_state)
        {
            FoldDrops();
            foreach (var window in _options.Windows)
            {
                Evaluate(window, update: true, events);
            }
        }

        return events;
    }

    /// <summary>Logs <paramref name="events"/>, counts them and runs every handler on them (as an evaluation that raises does).</summary>
    internal async Task RaiseAsync(IReadOnlyList<ModelMonitorEvent> events, CancellationToken cancellationToken)
    {
        foreach (var e in events)
        {
            Log(e);
            _metrics.Event(e.Kind);
        }

        if (events.Count > 0)
        {
            await DispatchAsync(events, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The hysteresis state of every window (what is drifted or violating), to hand over to another replica.</summary>
    internal IReadOnlyList<WindowStatus> ExportWindowStatus()
    {
        lock (_state)
        {
            return [.. _windowStates.OrderBy(p => p.Key).Select(p => new WindowStatus(
                p.Key,
                [.. p.Value.Drifted.Order(StringComparer.Ordinal)],
                [.. p.Value.Violating.Order(StringComparer.Ordinal)],
                p.Value.DatasetDrift))];
        }
    }

    /// <summary>Replaces the hysteresis state with <paramref name="status"/> (windows not listed start stable).</summary>
    internal void ImportWindowStatus(IEnumerable<WindowStatus> status)
    {
        ArgumentNullException.ThrowIfNull(status);
        lock (_state)
        {
            _windowStates.Clear();
            foreach (var window in status)
            {
                var state = new WindowState { DatasetDrift = window.DatasetDrift };
                state.Drifted.UnionWith(window.Drifted);
                state.Violating.UnionWith(window.Violating);
                _windowStates[window.Window] = state;
            }
        }
    }
}

/// <summary>The hysteresis state of one window: drifted features, violating rule keys, dataset drift.</summary>
internal sealed record WindowStatus(TimeSpan Window, IReadOnlyList<string> Drifted, IReadOnlyList<string> Violating, bool DatasetDrift);
