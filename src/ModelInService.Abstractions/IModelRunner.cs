namespace ModelInService;

/// <summary>
/// Runs a registered model on named tensors: the lower-level API for models whose inputs or outputs a C# type does not
/// fit (several free dimensions, batch dimension not first, and so on). Resolve it keyed by model name.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public interface IModelRunner
{
    /// <summary>Gets the name the model was registered under.</summary>
    string ModelName { get; }

    /// <summary>Gets the inputs and outputs the loaded model declares.</summary>
    /// <exception cref="ModelLoadException">The model failed to load.</exception>
    /// <exception cref="ModelNotReadyException">The model is not loaded yet.</exception>
    ModelSignature Signature { get; }

    /// <summary>Runs the model once.</summary>
    /// <param name="inputs">One tensor per model input, checked against the signature (names, element types, shapes, values) before anything runs.</param>
    /// <param name="cancellationToken">Cancels waiting and the run.</param>
    /// <returns>Every tensor output of the model, in signature order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inputs"/> is null.</exception>
    /// <exception cref="ModelInputException">An input is missing, unknown, of the wrong type or shape, or invalid.</exception>
    /// <exception cref="ModelLoadException">The model failed to load.</exception>
    /// <exception cref="ModelNotReadyException">The model is not loaded yet or is shutting down.</exception>
    /// <exception cref="ModelInferenceException">ONNX Runtime failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    ValueTask<IReadOnlyList<NamedTensor>> RunAsync(IReadOnlyList<NamedTensor> inputs, CancellationToken cancellationToken = default);
}
