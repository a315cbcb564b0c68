using ModelInService.Sessions;

namespace ModelInService.Fallback;

/// <summary>
/// Answers with the fallback (a delegate or another model) when the model cannot: failure, deadline, overload, not
/// loaded. The caller's own cancellation and invalid input are not fallback cases. Outermost stage; in the chain only
/// when <c>UseFallback</c> was called.
/// </summary>
internal sealed class FallbackStage<TInput, TOutput>(PredictionStage<TInput, TOutput> next, Func<TInput, Exception, CancellationToken, ValueTask<TOutput>> fallback)
    : DelegatingStage<TInput, TOutput>(next)
{
    /// <summary>The model could not answer a valid input (the errors this stage answers).</summary>
    public static bool Covers(Exception error) =>
        error is ModelInferenceException or ModelDeadlineExceededException or ModelOverloadedException or ModelNotReadyException or ModelLoadException;

    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        var prediction = Next.PredictAsync(serving, input, options, cancellationToken);
        return prediction.IsCompletedSuccessfully ? prediction : AnswerWhenFailedAsync(prediction, input);
    }

    private async ValueTask<TOutput> AnswerWhenFailedAsync(ValueTask<TOutput> prediction, TInput input)
    {
        try
        {
            return await prediction.ConfigureAwait(false);
        }
        catch (Exception ex) when (Covers(ex))
        {
            return await fallback(input, ex, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
