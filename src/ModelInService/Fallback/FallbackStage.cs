using ModelInService.Sessions;

namespace ModelInService.Fallback;

/// <summary>
/// Answers with the fallback (a delegate or another model) when the model cannot: failure, deadline, overload, not
/// loaded. The caller's own cancellation and invalid input are not fallback cases. Outermost stage; in the chain only
/// when <c>UseFallback</c> was called.
/// </summary>
internal sealed class FallbackStage<TInput, TOutput>(PredictionStage<TInput, TOutput> next, Func<TInput, Exception, CancellationToken, ValueTask<TOutput>> fallback, string modelName, Microsoft.Extensions.Logging.ILogger logger)
    : DelegatingStage<TInput, TOutput>(next)
{
    /// <summary>The model could not answer a valid input (the errors this stage answers).</summary>
    public static bool Covers(Exception error) =>
        error is ModelInferenceException or ModelDeadlineExceededException or ModelOverloadedException or ModelNotReadyException or ModelLoadException;

    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        var prediction = Next.PredictAsync(serving, input, options, cancellationToken);
        return prediction.IsCompletedSuccessfully ? prediction : AnswerWhenFailedAsync(prediction, input, cancellationToken);
    }

    private async ValueTask<TOutput> AnswerWhenFailedAsync(ValueTask<TOutput> prediction, TInput input, CancellationToken cancellationToken)
    {
        try
        {
            return await prediction.ConfigureAwait(false);
        }
        catch (Exception ex) when (Covers(ex) && !cancellationToken.IsCancellationRequested)
        {
            TOutput answer;
            try
            {
                // The caller's token: a caller that gave up gets its cancellation, not a late fallback answer.
                answer = await fallback(input, ex, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception fallbackError)
            {
                // The fallback could not answer either: the caller gets the model's own error (which an exception handler
                // maps to 503/429/504), and the fallback's failure is logged. It was the fallback's raw exception, with the
                // model's error lost.
                Sessions.Log.FallbackFailed(logger, modelName, ex.GetType().Name, fallbackError);
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex);
                throw;
            }

            if (answer is null && default(TOutput) is null)
            {
                Sessions.Log.FallbackFailed(logger, modelName, ex.GetType().Name, new InvalidOperationException("The fallback answered null."));
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex);
            }

            Telemetry.ModelTracing.Current?.SetTag(Telemetry.ModelTracing.FallbackTag, Telemetry.Outcomes.Of(ex));
            return answer;
        }
    }
}
