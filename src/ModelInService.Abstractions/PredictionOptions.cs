namespace ModelInService;

/// <summary>The priority of one request in the batcher's queue.</summary>
public enum PredictionPriority
{
    /// <summary>Served before normal and low requests (subject to the starvation guarantee).</summary>
    High = 0,
    /// <summary>The default.</summary>
    Normal = 1,
    /// <summary>Served after high and normal requests (subject to the starvation guarantee).</summary>
    Low = 2,
}

/// <summary>Per-call settings for <see cref="IPredictor{TInput, TOutput}.PredictAsync(TInput, PredictionOptions, CancellationToken)"/>.</summary>
/// <remarks>Immutable in use; share instances freely.</remarks>
public sealed class PredictionOptions
{
    /// <summary>Gets the options every call without options uses.</summary>
    public static PredictionOptions Default { get; } = new();

    /// <summary>
    /// Gets or sets a deadline shorter than the model's default (<c>BatchingOptions.DefaultTimeout</c>) for this call; null
    /// keeps the default. <see cref="TimeSpan.Zero"/> is a deadline already past (what is left of a caller's own budget):
    /// the call fails with <see cref="ModelDeadlineExceededException"/> without running the model (a cached answer is
    /// still returned).
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Gets or sets the call's priority in the batcher's queue.</summary>
    /// <value>Default <see cref="PredictionPriority.Normal"/>.</value>
    public PredictionPriority Priority { get; init; } = PredictionPriority.Normal;

    /// <summary>
    /// Gets or sets a key (e.g. a user id) that keeps a caller on the same side of a canary: requests with the same
    /// key always go to the same version. Without it, canary routing is random per request.
    /// </summary>
    public string? RoutingKey { get; init; }
}
