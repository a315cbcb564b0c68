using ModelInService.Batching;
using ModelInService.Caching;

namespace ModelInService.Hosting;

/// <summary>
/// What the model's chain was built with, for the observers outside the request path (metrics, health, the load
/// harness): the batcher and the cache. Written once by <see cref="PredictionChain"/>; no stage reads it.
/// </summary>
internal sealed class ModelFeatures
{
    private volatile IModelBatcher? _batcher;
    private volatile IPredictionCache? _cache;

    /// <summary>The batcher when the model batches and its predictor was built.</summary>
    public IModelBatcher? Batcher => _batcher;

    /// <summary>The batching options of <see cref="Batcher"/>.</summary>
    public BatchingOptions? BatchingOptions { get; private set; }

    /// <summary>The prediction cache when the model caches and its predictor was built.</summary>
    public IPredictionCache? Cache => _cache;

    public void Attach(IModelBatcher batcher, BatchingOptions options)
    {
        BatchingOptions = options;
        _batcher = batcher;
    }

    public void Attach(IPredictionCache cache) => _cache = cache;
}
