namespace ModelInService;

/// <summary>
/// The in-process monitor of one model: profiles of its inputs and outputs per interval, compared with a reference;
/// reports, events, snapshots and outcome feedback. Resolve it keyed by model name
/// (<c>[FromKeyedServices("iris")] IModelMonitor</c>) after <c>UseMonitoring</c>.
/// </summary>
/// <remarks>Thread-safe: every member may be called concurrently with recording and evaluation.</remarks>
public interface IModelMonitor
{
    /// <summary>Gets the monitored model's name.</summary>
    string ModelName { get; }

    /// <summary>Gets the reference the windows are compared with, or null when none is set (quality rules that need no reference still run).</summary>
    MonitorReference? Reference { get; }

    /// <summary>Gets counters of the recording path.</summary>
    MonitorStatistics Statistics { get; }

    /// <summary>Replaces the reference (null removes it). Drift and quality states restart from "stable".</summary>
    /// <param name="reference">The new reference.</param>
    void SetReference(MonitorReference? reference);

    /// <summary>Builds a reference from training data: each input is profiled together with the model's own prediction for it (not recorded as production traffic), in chunks of <see cref="MonitoringOptions.ReferenceChunkSize"/> rows that calibrate the thresholds.</summary>
    /// <typeparam name="TInput">The model's input type.</typeparam>
    /// <param name="data">The training inputs.</param>
    /// <param name="cancellationToken">Cancels the build.</param>
    /// <returns>The reference (not yet set: call <see cref="SetReference"/>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException"><typeparamref name="TInput"/> is not the model's input type.</exception>
    Task<MonitorReference> BuildReferenceAsync<TInput>(IEnumerable<TInput> data, CancellationToken cancellationToken = default);

    /// <summary>Freezes the last <paramref name="window"/> of production traffic as a reference; its intervals become the calibration chunks and its rate the volume rule's reference rate.</summary>
    /// <param name="window">How much recent history (whole intervals) to freeze.</param>
    /// <returns>The reference (not yet set: call <see cref="SetReference"/>).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is not positive or exceeds the retention.</exception>
    MonitorReference FreezeReference(TimeSpan window);

    /// <summary>Computes the current report of one window (the last whole intervals it covers), with the statuses the last evaluation left.</summary>
    /// <param name="window">A window length; need not be one of <see cref="MonitoringOptions.Windows"/>.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is not positive or exceeds the retention.</exception>
    MonitorReport GetReport(TimeSpan window);

    /// <summary>
    /// Computes the report of the window that ended at <paramref name="endTime"/> (rounded down to an interval boundary),
    /// for history charts: distances over time against the current reference and thresholds; statuses are the current
    /// hysteresis state applied to that window.
    /// </summary>
    /// <param name="window">A window length.</param>
    /// <param name="endTime">When the window ended; its first interval must still be retained.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is not positive, or the window is not within the retention.</exception>
    MonitorReport GetReport(TimeSpan window, DateTimeOffset endTime);

    /// <summary>Waits until every prediction recorded so far is in the profiles.</summary>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>A task that completes when the queue has been processed.</returns>
    Task FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Flushes, evaluates every configured window, updates drift and quality states and raises the resulting events (the hosted service calls this on its timer).</summary>
    /// <param name="cancellationToken">Cancels the evaluation and the handlers.</param>
    /// <returns>The events raised.</returns>
    Task<IReadOnlyList<ModelMonitorEvent>> EvaluateAsync(CancellationToken cancellationToken = default);

    /// <summary>Exports every retained interval (profiles as sketch bytes, counts, outcome statistics).</summary>
    /// <returns>The snapshot.</returns>
    MonitorSnapshot ExportSnapshot();

    /// <summary>
    /// Merges a snapshot (from another replica, or a restart) into the retained intervals: the result is what one
    /// process that saw both streams of traffic would hold. All or nothing: the whole snapshot is checked before
    /// anything changes. Intervals older than the retention, intervals more than
    /// <see cref="MonitoringOptions.MaxSnapshotClockSkew"/> ahead of this monitor's clock, and unknown features beyond
    /// <see cref="MonitoringOptions.MaxImportedFeatures"/> are skipped and counted in the result (and logged).
    /// </summary>
    /// <param name="snapshot">The snapshot.</param>
    /// <returns>What was merged and what was skipped.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="snapshot"/> is null.</exception>
    /// <exception cref="ArgumentException">The snapshot's interval length differs.</exception>
    /// <exception cref="OverflowException">A merged count (predictions, outcomes, or a feature's observations) would
    /// exceed <see cref="long.MaxValue"/>, or a merged error sum would not be finite; nothing was merged.</exception>
    MonitorMergeResult MergeSnapshot(MonitorSnapshot snapshot);

    /// <summary>Joins the actual value (a regression target, or a class code) to the prediction whose input carried <paramref name="predictionId"/> (<see cref="MonitoringOptions.PredictionIdMember"/>).</summary>
    /// <param name="predictionId">The prediction id.</param>
    /// <param name="actual">The actual value or class code.</param>
    /// <returns>Whether the outcome was joined: false when no pending prediction has that id once what was recorded has
    /// been decoded, when its interval left the retention, when the id is over 1,024 characters, or when a regression
    /// error (or its square, or the interval's sums) would not be finite (the prediction then stays pending).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predictionId"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="actual"/> is NaN or infinite.</exception>
    bool RecordOutcome(string predictionId, double actual);

    /// <summary>Joins the actual class label to the prediction whose input carried <paramref name="predictionId"/>.</summary>
    /// <param name="predictionId">The prediction id.</param>
    /// <param name="actual">The actual label.</param>
    /// <returns>Whether the outcome was joined (as for <see cref="RecordOutcome(string, double)"/>; a regression's label
    /// that parses as a non-finite number is refused).</returns>
    bool RecordOutcome(string predictionId, string actual);

    /// <summary>Returns the evaluation store's samples, most uncertain first, with outcomes where known.</summary>
    /// <returns>A copy of the samples.</returns>
    IReadOnlyList<EvaluationSample> GetEvaluationSamples();
}

/// <summary>The outcome of <see cref="IModelMonitor.MergeSnapshot"/>.</summary>
/// <param name="Merged">Intervals merged into the retained ones.</param>
/// <param name="TooOld">Intervals skipped because they are older than the retention (their predictions count as late).</param>
/// <param name="Ahead">Intervals skipped because they start more than <see cref="MonitoringOptions.MaxSnapshotClockSkew"/> after this monitor's current interval.</param>
/// <param name="SkippedPredictions">Predictions of the skipped intervals.</param>
/// <param name="SkippedFeatures">Features the snapshot knows and this monitor does not, skipped because <see cref="MonitoringOptions.MaxImportedFeatures"/> was reached, or because they are numeric here and categorical there (or the reverse).</param>
public readonly record struct MonitorMergeResult(int Merged, int TooOld, int Ahead, long SkippedPredictions, int SkippedFeatures);

/// <summary>Counters of a monitor's recording path.</summary>
/// <param name="Recorded">Predictions whose features reached the profiles.</param>
/// <param name="Dropped">Predictions dropped because the queue was full (still counted for the volume rule).</param>
/// <param name="Late">Predictions that arrived for an interval no longer retained.</param>
/// <param name="SchemaViolations">Requests the validator rejected, and predictions whose output was non-finite (<see cref="ModelNonFiniteOutputException"/>).</param>
/// <param name="QueuedBlocks">Blocks of predictions waiting for the consumer.</param>
/// <param name="Unsampled">Predictions left out of profiling by the sampling budget (<see cref="MonitoringOptions.MaxProfiledRowsPerSecond"/>; still counted for the volume rule).</param>
public readonly record struct MonitorStatistics(long Recorded, long Dropped, long Late, long SchemaViolations, int QueuedBlocks, long Unsampled);
