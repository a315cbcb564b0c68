namespace ModelInService.Batching;

/// <summary>The type-erased face of a <see cref="DynamicBatcher{TInput, TOutput}"/> that the host manages.</summary>
internal interface IModelBatcher : IDisposable
{
    BatcherStatistics Statistics { get; }

    int QueueDepth { get; }

    Task StopAsync(TimeSpan drainTimeout);
}
