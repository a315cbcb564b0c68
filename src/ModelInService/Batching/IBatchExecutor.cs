namespace ModelInService.Batching;

/// <summary>Runs a batch of validated inputs. The real one runs the model on a pool slot; tests use fakes.</summary>
internal interface IBatchExecutor<TInput, TOutput>
{
    /// <summary>Gets the most rows one run may take (1 for models with a fixed batch dimension).</summary>
    int MaxRowsPerRun { get; }

    /// <summary>
    /// Runs the rows and returns one output per row, in order. Throws for a failed run. Whatever observes answered
    /// rows (the monitor) records them here, after a successful run and before returning: the callers get their
    /// results only after this returns.
    /// </summary>
    ValueTask<TOutput[]> ExecuteAsync(ReadOnlyMemory<TInput> rows, CancellationToken cancellationToken);
}
