namespace ModelInService;

/// <summary>
/// Predicts <typeparamref name="TOutput"/> from <typeparamref name="TInput"/> with a registered model. Resolve it from
/// dependency injection (a singleton; keyed by model name: <c>[FromKeyedServices("iris")]</c>).
/// </summary>
/// <typeparam name="TInput">The input type: its members map to the model's inputs.</typeparam>
/// <typeparam name="TOutput">The output type: its members map to the model's outputs.</typeparam>
/// <remarks>Thread-safe: call it from any number of requests at once.</remarks>
public interface IPredictor<TInput, TOutput>
{
    /// <summary>Gets the name the model was registered under.</summary>
    string ModelName { get; }

    /// <summary>Predicts one output.</summary>
    /// <param name="input">The input; validated before anything runs.</param>
    /// <param name="cancellationToken">Cancels waiting for a free slot and, through ONNX Runtime's terminate flag, a run in progress.</param>
    /// <returns>A new output object that the caller owns.</returns>
    /// <exception cref="ModelInputException">The input is invalid (null, wrong length, non-finite, over a limit).</exception>
    /// <exception cref="ModelLoadException">The model failed to load.</exception>
    /// <exception cref="ModelNotReadyException">The model is not loaded yet or is shutting down.</exception>
    /// <exception cref="ModelInferenceException">ONNX Runtime failed on a valid input.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    ValueTask<TOutput> PredictAsync(TInput input, CancellationToken cancellationToken = default);

    /// <summary>Predicts one output with per-call settings: a shorter deadline, or a priority in the batcher's queue.</summary>
    /// <param name="input">The input; validated before it is queued.</param>
    /// <param name="options">The call's deadline and priority.</param>
    /// <param name="cancellationToken">Removes the request from the queue, or abandons it while its batch runs.</param>
    /// <returns>A new output object that the caller owns.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ModelInputException">The input is invalid.</exception>
    /// <exception cref="ModelOverloadedException">The queue is full (batching on).</exception>
    /// <exception cref="ModelDeadlineExceededException">The deadline passed before the result was ready.</exception>
    /// <exception cref="ModelLoadException">The model failed to load.</exception>
    /// <exception cref="ModelNotReadyException">The model is not loaded yet or is shutting down.</exception>
    /// <exception cref="ModelInferenceException">ONNX Runtime failed on this input.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    ValueTask<TOutput> PredictAsync(TInput input, PredictionOptions options, CancellationToken cancellationToken = default);

    /// <summary>Predicts one output per input, sending many rows per run when the model has a free batch dimension.</summary>
    /// <param name="inputs">The inputs; all are validated before anything runs.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The outputs, in the order of <paramref name="inputs"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inputs"/> is null.</exception>
    /// <exception cref="ModelInputException">An input is invalid; <see cref="ModelInputException.Index"/> says which.</exception>
    /// <exception cref="ModelLoadException">The model failed to load.</exception>
    /// <exception cref="ModelNotReadyException">The model is not loaded yet or is shutting down.</exception>
    /// <exception cref="ModelInferenceException">ONNX Runtime failed on valid inputs.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    ValueTask<IReadOnlyList<TOutput>> PredictBatchAsync(IReadOnlyList<TInput> inputs, CancellationToken cancellationToken = default);
}
