namespace ModelInService.Testing;

/// <summary>One call recorded by <see cref="FakePredictor{TInput, TOutput}"/>.</summary>
/// <typeparam name="TInput">The input type.</typeparam>
/// <remarks>Immutable. The inputs are the instances passed (not copies); the list of a batch is a copy.</remarks>
public sealed class FakePredictorCall<TInput>
{
    internal FakePredictorCall(IReadOnlyList<TInput> inputs, PredictionOptions? options, bool isBatch)
    {
        Inputs = inputs;
        Options = options;
        IsBatch = isBatch;
    }

    /// <summary>Gets the call's inputs: one for <c>PredictAsync</c>, the batch's in order for <c>PredictBatchAsync</c>.</summary>
    public IReadOnlyList<TInput> Inputs { get; }

    /// <summary>Gets the input of a <c>PredictAsync</c> call (the first input of a batch).</summary>
    /// <exception cref="InvalidOperationException">The call was an empty batch.</exception>
    public TInput Input => Inputs.Count > 0 ? Inputs[0] : throw new InvalidOperationException("The call was an empty batch.");

    /// <summary>Gets the options passed to <c>PredictAsync(input, options, ...)</c>, or <see langword="null"/> when the call had none.</summary>
    public PredictionOptions? Options { get; }

    /// <summary>Gets whether the call was <c>PredictBatchAsync</c>.</summary>
    public bool IsBatch { get; }
}
