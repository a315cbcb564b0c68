using System.Diagnostics;
using ModelInService.Sessions;

namespace ModelInService.Telemetry;

/// <summary>
/// Counts every request with its outcome and duration (<c>model_in_service.requests</c>,
/// <c>model_in_service.request.duration</c>). In the chain only when an <c>IMeterFactory</c> is registered.
/// </summary>
/// <remarks>
/// A failure that the fallback stage above takes over (<paramref name="answeredAbove"/>, the fallback's own rule,
/// handed in when the chain is built) is not counted here: the fallback stage counts it once it knows the end
/// (answered by the fallback, failed with it, or canceled), with the fallback's time in the duration.
/// </remarks>
internal sealed class MetricsStage<TInput, TOutput>(PredictionStage<TInput, TOutput> next, ModelMetrics metrics, string model, Func<Exception, bool>? answeredAbove)
    : DelegatingStage<TInput, TOutput>(next)
{
    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var prediction = Next.PredictAsync(serving, input, options, cancellationToken);
        if (prediction.IsCompletedSuccessfully)
        {
            metrics.RequestCompleted(model, Outcomes.Success, started);
            return prediction;
        }

        return CountWhenDoneAsync(prediction, started);
    }

    private async ValueTask<TOutput> CountWhenDoneAsync(ValueTask<TOutput> prediction, long started)
    {
        TOutput output;
        try
        {
            output = await prediction.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (answeredAbove is null || !answeredAbove(ex))
            {
                metrics.RequestCompleted(model, Outcomes.Of(ex), started);
            }

            throw;
        }

        metrics.RequestCompleted(model, Outcomes.Success, started);
        return output;
    }
}
