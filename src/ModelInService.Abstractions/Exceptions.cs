namespace ModelInService;

/// <summary>The base type of every exception this library raises about a model.</summary>
public abstract class ModelException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    protected ModelException(string modelName, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ModelName = modelName;
    }

    /// <summary>Gets the name the model was registered under.</summary>
    public string ModelName { get; }
}

/// <summary>
/// A request's input was rejected before it reached ONNX Runtime: a null value, a wrong length, a non-finite number
/// or a value over a configured limit. Safe to report to the caller (HTTP 400).
/// </summary>
public sealed class ModelInputException : ModelException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="memberName">The offending member, e.g. <c>IrisInput.Features</c>; <see langword="null"/> for the whole input.</param>
    /// <param name="reason">What is wrong, in words a caller can act on.</param>
    public ModelInputException(string modelName, string? memberName, string reason)
        : this(modelName, memberName, reason, -1)
    {
    }

    private ModelInputException(string modelName, string? memberName, string reason, int index)
        : base(modelName, (memberName is null ? $"Invalid input for model '{modelName}': {reason}" : $"Invalid input for model '{modelName}': {memberName} {reason}")
            + (index >= 0 ? $" (batch item {index})" : ""))
    {
        MemberName = memberName;
        Reason = reason;
        Index = index;
    }

    /// <summary>Gets the member that failed validation, or <see langword="null"/> when the input itself was rejected.</summary>
    public string? MemberName { get; }

    /// <summary>Gets why the value was rejected.</summary>
    public string Reason { get; }

    /// <summary>Gets the position of the rejected item in a batch call, or -1 for a single prediction.</summary>
    public int Index { get; }

    internal ModelInputException AtIndex(int index) => new(ModelName, MemberName, Reason, index);
}

/// <summary>
/// A model could not be loaded: the file is missing or unreadable, ONNX Runtime refused it, an execution provider
/// that was required is absent, or the typed schema does not fit (<see cref="ModelSchemaException"/>).
/// </summary>
public class ModelLoadException : ModelException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="message">The message, naming the source and the reason.</param>
    /// <param name="innerException">The runtime's error, if any.</param>
    public ModelLoadException(string modelName, string message, Exception? innerException = null)
        : base(modelName, message, innerException)
    {
    }
}

/// <summary>
/// The C# input or output type does not fit the model's inputs and outputs. <see cref="Mismatches"/> lists every
/// problem found, each with what the model expects and what the type declares.
/// </summary>
public sealed class ModelSchemaException : ModelLoadException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="mismatches">Every mismatch found.</param>
    public ModelSchemaException(string modelName, IReadOnlyList<string> mismatches)
        : base(modelName, BuildMessage(modelName, mismatches))
    {
        Mismatches = mismatches;
    }

    /// <summary>Gets one line per mismatch.</summary>
    public IReadOnlyList<string> Mismatches { get; }

    private static string BuildMessage(string modelName, IReadOnlyList<string> mismatches)
    {
        ArgumentNullException.ThrowIfNull(mismatches);
        return $"The schema of model '{modelName}' does not match its C# types ({mismatches.Count} problem{(mismatches.Count == 1 ? "" : "s")}):"
            + Environment.NewLine + "  - " + string.Join(Environment.NewLine + "  - ", mismatches);
    }
}

/// <summary>The model is not loaded yet, or the application is shutting down (HTTP 503).</summary>
public sealed class ModelNotReadyException : ModelException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="message">Why the model cannot serve.</param>
    public ModelNotReadyException(string modelName, string message)
        : base(modelName, message)
    {
    }
}

/// <summary>ONNX Runtime failed while running the model on valid input, or the model's answer was not usable (see <see cref="ModelNonFiniteOutputException"/>).</summary>
public class ModelInferenceException : ModelException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The runtime's error.</param>
    public ModelInferenceException(string modelName, string message, Exception? innerException)
        : base(modelName, message, innerException)
    {
    }
}

/// <summary>
/// The model produced NaN or an infinity in a floating-point output for this input (typically an input far outside
/// the range the model was trained on). Raised by default for every <see cref="float"/>, <see cref="double"/> and
/// <see cref="Half"/> output member; mark a member <see cref="AllowNonFiniteAttribute"/> to receive such values
/// instead. In a batch only the rows concerned fail. HTTP 500.
/// </summary>
public sealed class ModelNonFiniteOutputException : ModelInferenceException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="outputName">The model output that held the value.</param>
    /// <param name="memberName">The output member bound to it, e.g. <c>IrisOutput.Probabilities</c>.</param>
    /// <param name="value">The value: NaN, positive or negative infinity.</param>
    public ModelNonFiniteOutputException(string modelName, string outputName, string memberName, double value)
        : this(modelName, outputName, memberName, value, -1)
    {
    }

    private ModelNonFiniteOutputException(string modelName, string outputName, string memberName, double value, int index)
        : base(modelName, $"Model '{modelName}' produced {Describe(value)} for this input in output '{outputName}' ({memberName}){(index >= 0 ? $" (batch item {index})" : "")}; the input is likely outside the range the model was trained on (mark the member [AllowNonFinite] to accept non-finite outputs).", null)
    {
        OutputName = outputName;
        MemberName = memberName;
        Value = value;
        Index = index;
    }

    /// <summary>Gets the model output that held the non-finite value.</summary>
    public string OutputName { get; }

    /// <summary>Gets the output member bound to it.</summary>
    public string MemberName { get; }

    /// <summary>Gets the first non-finite value found: NaN, positive or negative infinity.</summary>
    public double Value { get; }

    /// <summary>Gets the position of the item in a <c>PredictBatchAsync</c> call, or -1 for a single prediction.</summary>
    public int Index { get; }

    internal ModelNonFiniteOutputException AtIndex(int index) => new(ModelName, OutputName, MemberName, Value, index);

    private static string Describe(double value) => double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

/// <summary>
/// The model's queue is full: the request was rejected at once, without waiting (HTTP 429 with a Retry-After of
/// <see cref="RetryAfter"/>).
/// </summary>
public sealed class ModelOverloadedException : ModelException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="message">The message.</param>
    /// <param name="retryAfter">When a retry is likely to be accepted.</param>
    public ModelOverloadedException(string modelName, string message, TimeSpan retryAfter)
        : base(modelName, message)
    {
        RetryAfter = retryAfter;
    }

    /// <summary>Gets the estimated time until the queue has room: the queued work divided by the workers.</summary>
    public TimeSpan RetryAfter { get; }
}

/// <summary>The request's deadline passed before its result was ready (HTTP 504).</summary>
public sealed class ModelDeadlineExceededException : ModelException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="modelName">The registered model name.</param>
    /// <param name="message">The message.</param>
    /// <param name="timeout">The deadline that applied, counted from when the request was queued.</param>
    public ModelDeadlineExceededException(string modelName, string message, TimeSpan timeout)
        : base(modelName, message)
    {
        Timeout = timeout;
    }

    /// <summary>Gets the deadline that applied.</summary>
    public TimeSpan Timeout { get; }
}
