using ModelInService.Sessions;

namespace ModelInService.Fallback;

/// <summary>
/// Answers with the fallback (a delegate or another model) when the model cannot: failure, deadline, overload, not
/// loaded. The caller's own cancellation and invalid input are not fallback cases. Outermost stage; in the chain only
/// when <c>UseFallback</c> was called.
/// </summary>
/// <remarks>
/// With metrics, the requests this stage takes over are counted here, once their end is known (the metrics stage below
/// leaves every error <see cref="Covers"/> matches to it): <c>fallback</c> when the fallback answered, the model's error
/// when the fallback failed too, <c>canceled</c> when the caller gave up; the duration includes the fallback's time.
/// Counted below, before the fallback ran, a failing fallback showed as <c>fallback</c> and its time was missing.
/// </remarks>
internal sealed class FallbackStage<TInput, TOutput>(PredictionStage<TInput, TOutput> next, Func<TInput, Exception, CancellationToken, ValueTask<TOutput>> fallback, string modelName, Microsoft.Extensions.Logging.ILogger logger, Telemetry.ModelMetrics? metrics = null)
    : DelegatingStage<TInput, TOutput>(next)
{
    /// <summary>The model could not answer a valid input (the errors this stage answers).</summary>
    public static bool Covers(Exception error) =>
        error is ModelInferenceException or ModelDeadlineExceededException or ModelOverloadedException or ModelNotReadyException or ModelLoadException;

    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        var started = metrics is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        var prediction = Next.PredictAsync(serving, input, options, cancellationToken);
        return prediction.IsCompletedSuccessfully ? prediction : AnswerWhenFailedAsync(prediction, input, started, cancellationToken);
    }

    private async ValueTask<TOutput> AnswerWhenFailedAsync(ValueTask<TOutput> prediction, TInput input, long started, CancellationToken cancellationToken)
    {
        try
        {
            return await prediction.ConfigureAwait(false);
        }
        catch (Exception ex) when (Covers(ex))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                // The caller gave up: no fallback for it (its own error surfaces).
                metrics?.RequestCompleted(modelName, Telemetry.Outcomes.Of(ex), started);
                throw;
            }

            TOutput answer;
            try
            {
                // The caller's token: a caller that gave up gets its cancellation, not a late fallback answer.
                answer = await fallback(input, ex, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                metrics?.RequestCompleted(modelName, Telemetry.Outcomes.Canceled, started);
                throw;
            }
            catch (Exception fallbackError)
            {
                // The fallback could not answer either: the caller gets the model's own error (which an exception handler
                // maps to 503/429/504), and the fallback's failure is logged. It was the fallback's raw exception, with the
                // model's error lost.
                Sessions.Log.FallbackFailed(logger, modelName, ex.GetType().Name, fallbackError);
                metrics?.RequestCompleted(modelName, Telemetry.Outcomes.Of(ex), started);
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex);
                throw;
            }

            if (answer is null && default(TOutput) is null)
            {
                Sessions.Log.FallbackFailed(logger, modelName, ex.GetType().Name, new InvalidOperationException("The fallback answered null."));
                metrics?.RequestCompleted(modelName, Telemetry.Outcomes.Of(ex), started);
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex);
            }

            metrics?.RequestCompleted(modelName, Telemetry.Outcomes.Fallback, started);

            Telemetry.ModelTracing.Current?.SetTag(Telemetry.ModelTracing.FallbackTag, Telemetry.Outcomes.Of(ex));
            return answer;
        }
    }
}
