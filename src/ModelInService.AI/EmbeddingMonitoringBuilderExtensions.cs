using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ModelInService.AI;

/// <summary>Adds embedding-drift monitoring to a model registered with <c>AddEmbeddingModel</c>.</summary>
public static class EmbeddingMonitoringBuilderExtensions
{
    /// <summary>
    /// Profiles every embedding the model's generator returns, per window of
    /// <see cref="EmbeddingMonitoringOptions.WindowSize"/> texts: the norm before normalization, the token count, the
    /// unknown-token rate and fixed random projections (quantile sketches), and a reservoir sample that is tested
    /// against the first (reference) window with a maximum mean discrepancy permutation test (RBF kernel, median
    /// heuristic, as alibi-detect's MMD drift detector). A drifted window is logged as a warning and delivered to every
    /// registered <see cref="IModelMonitorHandler"/> as <see cref="ModelMonitorEventKind.DatasetDriftDetected"/>
    /// (rule <c>mmd</c>, value the p-value).
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddEmbeddingModel</c>.</param>
    /// <param name="configure">Sets the options; the defaults need nothing.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of its range (checked here, when the generator's monitor is built).</exception>
    public static ModelBuilder UseEmbeddingMonitoring(this ModelBuilder builder, Action<EmbeddingMonitoringOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new EmbeddingMonitoringOptions();
        configure?.Invoke(options);
        EmbeddingDriftMonitor.Check(options);
        var name = builder.Name;
        builder.Services.AddKeyedSingleton<IEmbeddingObserver>(name, (sp, _) => new EmbeddingDriftMonitor(
            name,
            options,
            sp.GetServices<IModelMonitorHandler>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILoggerFactory>()?.CreateLogger("ModelInService.AI") ?? NullLogger.Instance));
        return builder;
    }
}
