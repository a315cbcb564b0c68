using ModelInService.Sessions;

namespace ModelInService.Schema;

/// <summary>
/// Checks the input against the serving generation's schema before anything else sees it: an invalid input never
/// reaches the cache, a queue or a batch. Always in the chain. Rejections are counted for the monitor's
/// schema-violation rule when the model is monitored.
/// </summary>
internal sealed class ValidationStage<TInput, TOutput>(PredictionStage<TInput, TOutput> next, IRejectionRecorder? rejections)
    : DelegatingStage<TInput, TOutput>(next)
{
    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        if (serving.Error is { } notServing)
        {
            return ValueTask.FromException<TOutput>(notServing);
        }

        try
        {
            serving.Binder.Validate(input);
        }
        catch (ModelInputException ex)
        {
            rejections?.RecordRejected();
            return ValueTask.FromException<TOutput>(ex);
        }
#pragma warning disable CA1031 // A throwing getter of the caller's type fails this call only.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<TOutput>(ex);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TOutput>(cancellationToken);
        }

        return Next.PredictAsync(serving, input, options, cancellationToken);
    }
}
