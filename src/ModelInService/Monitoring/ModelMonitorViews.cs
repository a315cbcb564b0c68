namespace ModelInService;

/// <summary>
/// Other views of a model's monitor registered next to it. The model's own monitor is the keyed
/// <see cref="IModelMonitor"/> under the model's name; a package that merges several replicas' monitors
/// (ModelInService.Redis's <c>UseRedisMonitoring</c>) registers the merged view under <see cref="ClusterKey"/>, and the
/// monitor endpoints and dashboard (<c>MapModelMonitor</c>, <c>?scope=cluster</c>) show it.
/// </summary>
public static class ModelMonitorViews
{
    /// <summary>The service key of the cluster view of <paramref name="modelName"/>'s monitor: <c>"{modelName}@cluster"</c>.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <returns>The key of the keyed <see cref="IModelMonitor"/> that holds every replica's intervals.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="modelName"/> is null.</exception>
    public static string ClusterKey(string modelName)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        return modelName + "@cluster";
    }
}
