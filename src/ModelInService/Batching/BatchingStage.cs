using ModelInService.Sessions;

namespace ModelInService.Batching;

/// <summary>
/// Queues the request for the dynamic batcher, whose workers run whole batches on the serving generation
/// (<see cref="RuntimeBatchExecutor{TInput, TOutput}"/>). The last stage of the chain when <c>UseBatching</c> was
/// called (instead of the session stage).
/// </summary>
/// <remarks>
/// The batcher is made by the first request that reaches this stage, not when the chain is built: its batch size
/// depends on the loaded model (a fixed batch dimension means one row per run), and a predictor may be resolved
/// before the host started (a minimal API maps its endpoints first). Requests only get here with a serving
/// generation (the validation stage answers "not loaded" above), so the batcher always sees a loaded model.
/// </remarks>
internal sealed class BatchingStage<TInput, TOutput>(Func<DynamicBatcher<TInput, TOutput>> create) : PredictionStage<TInput, TOutput>
{
    private readonly Lock _gate = new();
    private volatile DynamicBatcher<TInput, TOutput>? _batcher;

    /// <summary>The batcher, made on first use.</summary>
    public DynamicBatcher<TInput, TOutput> Batcher => _batcher ?? Create();

    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        try
        {
            // The bucket is computed here, before the batcher takes a queue place: a throwing getter costs nothing there.
            return Batcher.EnqueueAsync(input, serving.Binder.BucketOf(input), options, cancellationToken);
        }
#pragma warning disable CA1031 // Stages answer failures through the task.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<TOutput>(ex);
        }
    }

    private DynamicBatcher<TInput, TOutput> Create()
    {
        // Not Lazy<T>: a failure (the model unloaded between the snapshot and here) must not be cached.
        lock (_gate)
        {
            return _batcher ??= create();
        }
    }
}
