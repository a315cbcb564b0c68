namespace ModelInService.Monitoring;

/// <summary>Observes successful predictions (the monitor). Must not block: it runs on the request path.</summary>
internal interface IPredictionRecorder<TInput, TOutput>
{
    /// <summary>Records one answered row; <paramref name="version"/> is the answering generation's <see cref="ModelVersionInfo.Sha256"/> (null when unknown).</summary>
    void Record(TInput input, TOutput output, string? version);

    /// <summary>Records the rows of one batch the model answered (one clock read for all of them).</summary>
    void RecordBatch(ReadOnlySpan<TInput> inputs, ReadOnlySpan<TOutput> outputs, string? version);
}
