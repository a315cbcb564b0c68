namespace ModelInService.Batching;

/// <summary>Runs a batch of validated inputs. The real one runs the model on a pool slot; tests use fakes.</summary>
internal interface IBatchExecutor<TInput, TOutput>
{
    /// <summary>Gets the most rows one run may take (1 for models with a fixed batch dimension).</summary>
    int MaxRowsPerRun { get; }

    /// <summary>Gets the bucket of an input: rows of different buckets (e.g. text lengths) never run together.</summary>
    long BucketOf(TInput input);

    /// <summary>Runs the rows and returns one output per row, in order. Throws for a failed run.</summary>
    ValueTask<TOutput[]> ExecuteAsync(ReadOnlyMemory<TInput> rows, CancellationToken cancellationToken);

    /// <summary>Called on the worker after a successful run, just before its callers get their results (the monitor records the rows here).</summary>
    /// <param name="inputs">The rows that ran.</param>
    /// <param name="outputs">Their outputs.</param>
    void Answered(ReadOnlySpan<TInput> inputs, TOutput[] outputs);
}
