namespace ModelInService.Sessions;

/// <summary>
/// Runs the request by itself on a free slot of the serving generation — synchronously on the caller's thread when a
/// slot is free (a completed <see cref="ValueTask{TResult}"/>: no task, no closure, no thread hop), else after waiting
/// for one. The last stage of the chain when the model does not batch.
/// </summary>
internal sealed class SessionStage<TInput, TOutput>(IGenerationSource source) : PredictionStage<TInput, TOutput>
{
    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        try
        {
            if (options?.Timeout is { } timeout)
            {
                // A deadline already past fails at once: the deadline's timer fires on another thread, so a fast run
                // sometimes answered first (the parity probe of the Testing fakes saw both outcomes).
                return timeout == TimeSpan.Zero
                    ? ValueTask.FromException<TOutput>(DeadlineExceeded(timeout))
                    : RunWithDeadlineAsync(input, timeout, cancellationToken);
            }

            if (Runs.TryRunNow(source, serving, input, cancellationToken, out var output))
            {
                return new ValueTask<TOutput>(output);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TOutput>(cancellationToken);
        }
#pragma warning disable CA1031 // Stages answer failures through the task.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<TOutput>(ex);
        }

        return Runs.RunOneAsync<TInput, TOutput>(source, input, cancellationToken);
    }

    private async ValueTask<TOutput> RunWithDeadlineAsync(TInput input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, source.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            return await Runs.RunOneAsync<TInput, TOutput>(source, input, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw DeadlineExceeded(timeout);
        }
    }

    private ModelDeadlineExceededException DeadlineExceeded(TimeSpan timeout) =>
        new(source.Name, $"Request to model '{source.Name}' exceeded its {timeout.TotalMilliseconds:0} ms deadline.", timeout);
}
