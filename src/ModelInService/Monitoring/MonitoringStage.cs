using ModelInService.Sessions;

namespace ModelInService.Monitoring;

/// <summary>
/// Hands every answer of the model (cache hits and canary answers included; fallback answers excluded) to the
/// monitor's recorder, and counts non-finite outputs with the rejected rows. In the chain when the model is monitored
/// and the batcher does not record (batching with a cache, or no batching): without a cache every batched answer is
/// recorded once per batch by the batch executor instead, and this stage is left out.
/// </summary>
internal sealed class MonitoringStage<TInput, TOutput>(PredictionStage<TInput, TOutput> next, PredictionRecorder<TInput, TOutput> recorder)
    : DelegatingStage<TInput, TOutput>(next)
{
    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        var prediction = Next.PredictAsync(serving, input, options, cancellationToken);
        if (prediction.IsCompletedSuccessfully)
        {
            // The snapshot's generation: a request that followed a reload is attributed to the one it started on.
            recorder.Record(input, prediction.Result, serving.Runtime?.Info.Sha256);
            return prediction;
        }

        // Counted until recorded, so the monitor's final snapshot at shutdown waits for this prediction.
        return RecordWhenDoneAsync(prediction, input, serving.Runtime?.Info.Sha256, recorder.BeginPending());
    }

    private async ValueTask<TOutput> RecordWhenDoneAsync(ValueTask<TOutput> prediction, TInput input, string? version, int pending)
    {
        try
        {
            TOutput output;
            try
            {
                output = await prediction.ConfigureAwait(false);
            }
            catch (ModelNonFiniteOutputException)
            {
                recorder.RecordRejected();
                throw;
            }

            recorder.Record(input, output, version);
            return output;
        }
        finally
        {
            recorder.EndPending(pending);
        }
    }
}
