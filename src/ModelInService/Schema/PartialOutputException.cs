namespace ModelInService.Schema;

/// <summary>
/// A run of several rows in which some rows' outputs were non-finite: <see cref="Failures"/> holds their errors
/// (null for the rows whose <see cref="Outputs"/> are good). Callers that answer rows one by one (the batcher) fail
/// only those; a caller that cannot sees an inference error naming the first.
/// </summary>
/// <typeparam name="TOutput">The output type.</typeparam>
internal sealed class PartialOutputException<TOutput> : ModelInferenceException
{
    public PartialOutputException(string modelName, TOutput[] outputs, ModelNonFiniteOutputException?[] failures)
        : base(modelName, Describe(modelName, failures, out var first), first)
    {
        Outputs = outputs;
        Failures = failures;
    }

    /// <summary>Gets one output per row (meaningless where <see cref="Failures"/> has an entry).</summary>
    public TOutput[] Outputs { get; }

    /// <summary>Gets, per row, its error or null.</summary>
    public ModelNonFiniteOutputException?[] Failures { get; }

    /// <summary>Gets the number of rows that failed.</summary>
    public int FailedCount
    {
        get
        {
            var failed = 0;
            foreach (var failure in Failures)
            {
                if (failure is not null)
                {
                    failed++;
                }
            }

            return failed;
        }
    }

    private static string Describe(string modelName, ModelNonFiniteOutputException?[] failures, out ModelNonFiniteOutputException? first)
    {
        first = null;
        var failed = 0;
        foreach (var failure in failures)
        {
            if (failure is not null)
            {
                first ??= failure;
                failed++;
            }
        }

        return $"Model '{modelName}' produced non-finite outputs for {failed} of {failures.Length} rows; first: {first?.Message}";
    }
}
