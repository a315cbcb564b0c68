namespace ModelInService.Monitoring;

/// <summary>Observes successful predictions (the monitor). Must not block: it runs on the request path.</summary>
internal interface IPredictionRecorder<TInput, TOutput>
{
    void Record(TInput input, TOutput output);

    /// <summary>Records the rows of one batch the model answered (one clock read for all of them).</summary>
    void RecordBatch(ReadOnlySpan<TInput> inputs, ReadOnlySpan<TOutput> outputs);
}
