namespace ModelInService;

/// <summary>What happens to a request whose deadline passes before it has run.</summary>
public enum DeadlineAction
{
    /// <summary>Fail it with <see cref="ModelDeadlineExceededException"/> at its deadline (default), even while its batch runs.</summary>
    Reject,
    /// <summary>Keep it, but serve it only after every request that is still on time (Triton's DELAY).</summary>
    Delay,
}

/// <summary>
/// Options of the dynamic batcher of one model (named options; the name is the model name). Validated at start-up.
/// </summary>
/// <remarks>Configure before the host starts.</remarks>
public sealed class BatchingOptions
{
    /// <summary>Gets or sets the most requests run together. Models with a fixed batch dimension always run one at a time.</summary>
    /// <value>Default 32.</value>
    public int MaxBatchSize { get; set; } = 32;

    /// <summary>Gets or sets the longest time a batch waits for more requests after its first one arrived.</summary>
    /// <value>Default 2 ms.</value>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Gets or sets batch sizes the model runs best at (e.g. 8, 16, 32). When set, a batch that reached one of them
    /// while no further request is waiting is dispatched at once instead of waiting for <see cref="MaxDelay"/>.
    /// </summary>
    public IList<int> PreferredBatchSizes { get; } = new List<int>();

    /// <summary>
    /// Gets or sets whether a partial batch is dispatched as soon as nothing else is queued and no batch is running
    /// (work-conserving): waiting would only leave the model idle. Without it (the strict rule) a batch is dispatched
    /// only at <see cref="MaxBatchSize"/>, a preferred size, or <see cref="MaxDelay"/> after its first request, so
    /// when fewer requests can be in the queue than <see cref="MaxBatchSize"/> (few closed-loop callers, callers
    /// waiting on cache joins) every batch waits the full delay.
    /// </summary>
    /// <value>Default <see langword="true"/>. Under load the model is never idle, so batches still fill.</value>
    public bool DispatchWhenIdle { get; set; } = true;

    /// <summary>
    /// Gets or sets whether the batcher learns each batch's cost (a·n + b, least squares over the last 50 batches) and
    /// waits for more requests only while the fixed cost saved exceeds the wait imposed on the requests already
    /// collected; requests that cannot meet their deadline are rejected before they run.
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool Adaptive { get; set; }

    /// <summary>Gets or sets the most requests waiting in the queue; further requests fail at once with <see cref="ModelOverloadedException"/>.</summary>
    /// <value>Default 1024. There is no unbounded queue.</value>
    public int MaxQueueSize { get; set; } = 1024;

    /// <summary>
    /// Gets or sets the deadline of a request, counted from when it is queued and including queue time. A call can
    /// shorten it (<see cref="PredictionOptions.Timeout"/>) but not lengthen it. <see cref="Timeout.InfiniteTimeSpan"/> disables it.
    /// </summary>
    /// <value>Default 30 seconds.</value>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets what happens when a request's deadline passes.</summary>
    /// <value>Default <see cref="DeadlineAction.Reject"/>.</value>
    public DeadlineAction DeadlineAction { get; set; } = DeadlineAction.Reject;

    /// <summary>
    /// Gets or sets the starvation bound: while lower-priority requests wait, at most this many requests in a row are
    /// taken from higher priorities; the next one comes from the lower queue whose oldest request has waited longest.
    /// </summary>
    /// <value>Default 8.</value>
    public int StarvationLimit { get; set; } = 8;

    /// <summary>
    /// Gets or sets whether start-up fails when the model cannot run several rows together (see
    /// <see cref="ModelSignature.Batching"/> for why); otherwise a warning is logged once and requests run one at a time.
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool RequireBatching { get; set; }

    /// <summary>Gets or sets how long a stopping host waits for queued requests to run before failing the rest.</summary>
    /// <value>Default 10 seconds.</value>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
