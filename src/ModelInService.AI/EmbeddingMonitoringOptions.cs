namespace ModelInService.AI;

/// <summary>
/// Options of the embedding-drift monitor added by
/// <see cref="EmbeddingMonitoringBuilderExtensions.UseEmbeddingMonitoring(ModelBuilder, Action{EmbeddingMonitoringOptions}?)"/>.
/// </summary>
/// <remarks>Read once when the generator is built.</remarks>
public sealed class EmbeddingMonitoringOptions
{
    /// <summary>Gets or sets how many embeddings make a window. The first window is the reference; each later window is tested against it.</summary>
    /// <value>500. From 20 to 1,000,000.</value>
    public int WindowSize { get; set; } = 500;

    /// <summary>Gets or sets how many embeddings of a window are kept (uniform reservoir sample) for the MMD test.</summary>
    /// <value>100. From 10 to 1,000 (the test's cost grows with its square).</value>
    public int ReservoirSize { get; set; } = 100;

    /// <summary>Gets or sets the permutations of the MMD test; the smallest p-value it can report is 1 / (permutations + 1).</summary>
    /// <value>1000. From 20 to 100,000.</value>
    public int Permutations { get; set; } = 1000;

    /// <summary>Gets or sets the p-value below which a window is reported as drifted.</summary>
    /// <value>0.002. Above 0 and below 1.</value>
    public double PValue { get; set; } = 0.002;

    /// <summary>Gets or sets how many fixed random projections of the embedding are profiled per window.</summary>
    /// <value>8. From 0 to 64.</value>
    public int Projections { get; set; } = 8;

    /// <summary>Gets or sets the seed of the projections, the reservoir and the permutations (runs are reproducible).</summary>
    /// <value>17.</value>
    public int Seed { get; set; } = 17;

    /// <summary>
    /// Gets or sets how long one handler may take for one event before it is abandoned (logged, the others still run):
    /// handlers are awaited by the <c>GenerateAsync</c> call that completes a window, so this bounds what they add to it.
    /// </summary>
    /// <value>10 seconds (as <c>MonitoringOptions.HandlerTimeout</c>).</value>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
