using System.Globalization;

namespace ModelInService.Testing;

/// <summary>
/// An <see cref="IModelRunner"/> for unit tests of code that runs models on named tensors: declares a signature
/// (<see cref="WithInput"/>, <see cref="WithOutput"/>), checks each call's tensors against it as the real runner does,
/// answers from a function and records every call. No model, no ONNX Runtime.
/// </summary>
/// <remarks>
/// <para>
/// The checks are the real runner's contract for its callers: <see cref="ArgumentNullException"/> for a null list,
/// <see cref="ModelInputException"/> naming the tensor for a null, missing, unknown or repeated input, a wrong element
/// type, a wrong rank or a fixed dimension that differs (a dimension declared -1 accepts any length), and
/// <see cref="OperationCanceledException"/> when the token is already canceled. A call that fails a check is still recorded.
/// With no answer configured, a call fails with <see cref="InvalidOperationException"/> naming what to configure.
/// </para>
/// <para>Thread-safe once configured: declare the signature before the first call; answer and read the calls from any thread.</para>
/// </remarks>
public sealed class FakeModelRunner : IModelRunner
{
    private readonly object _gate = new();
    private readonly List<TensorSpec> _inputs = [];
    private readonly List<TensorSpec> _outputs = [];
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);
    private readonly List<IReadOnlyList<NamedTensor>> _calls = [];
    private Func<IReadOnlyList<NamedTensor>, CancellationToken, ValueTask<IReadOnlyList<NamedTensor>>>? _answer;
    private ModelSignature? _signature;

    /// <summary>Initializes a fake runner with an empty signature and no answer.</summary>
    /// <param name="modelName">The name <see cref="ModelName"/> and the exceptions built by the fake carry.</param>
    /// <exception cref="ArgumentException"><paramref name="modelName"/> is null or empty.</exception>
    public FakeModelRunner(string modelName = "fake")
    {
        ArgumentException.ThrowIfNullOrEmpty(modelName);
        ModelName = modelName;
    }

    /// <inheritdoc/>
    public string ModelName { get; }

    /// <summary>Gets the declared signature (built on first use; declare every tensor before it).</summary>
    /// <exception cref="InvalidOperationException">No input or no output was declared.</exception>
    public ModelSignature Signature
    {
        get
        {
            lock (_gate)
            {
                if (_inputs.Count == 0 || _outputs.Count == 0)
                {
                    throw new InvalidOperationException($"FakeModelRunner '{ModelName}' has no {(_inputs.Count == 0 ? "input" : "output")}: declare its tensors with WithInput and WithOutput.");
                }

                return _signature ??= new ModelSignature([.. _inputs], [.. _outputs], new Dictionary<string, string>(_metadata, StringComparer.Ordinal), "ModelInService.Testing", 0);
            }
        }
    }

    /// <summary>Gets a copy of the inputs of every call so far, oldest first.</summary>
    public IReadOnlyList<IReadOnlyList<NamedTensor>> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>Gets the number of calls so far.</summary>
    public int CallCount
    {
        get
        {
            lock (_gate)
            {
                return _calls.Count;
            }
        }
    }

    /// <summary>Declares a tensor input.</summary>
    /// <param name="name">The input's name.</param>
    /// <param name="elementType">Its element type.</param>
    /// <param name="dimensions">Its dimensions; -1 for a free one (the first is the batch dimension when free).</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentException">The name is empty or already declared, or a dimension is below -1.</exception>
    /// <exception cref="InvalidOperationException">The signature was already used.</exception>
    public FakeModelRunner WithInput(string name, ModelElementType elementType, params long[] dimensions) => Declare(_inputs, name, elementType, dimensions);

    /// <summary>Declares a tensor output.</summary>
    /// <param name="name">The output's name.</param>
    /// <param name="elementType">Its element type.</param>
    /// <param name="dimensions">Its dimensions; -1 for a free one.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentException">The name is empty or already declared, or a dimension is below -1.</exception>
    /// <exception cref="InvalidOperationException">The signature was already used.</exception>
    public FakeModelRunner WithOutput(string name, ModelElementType elementType, params long[] dimensions) => Declare(_outputs, name, elementType, dimensions);

    /// <summary>Adds a custom metadata property (<see cref="ModelSignature.Metadata"/>), e.g. <c>feature_names</c>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="InvalidOperationException">The signature was already used.</exception>
    public FakeModelRunner WithMetadata(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        lock (_gate)
        {
            ThrowIfBuilt();
            _metadata[key] = value;
        }

        return this;
    }

    /// <summary>Sets the function that answers each call whose inputs passed the checks.</summary>
    /// <param name="answer">Computes the outputs from the inputs; may throw (for example a <see cref="ModelInferenceException"/>).</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="answer"/> is null.</exception>
    public FakeModelRunner AnswerWith(Func<IReadOnlyList<NamedTensor>, IReadOnlyList<NamedTensor>> answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return AnswerWith((inputs, _) => ValueTask.FromResult(answer(inputs)));
    }

    /// <summary>Sets an asynchronous answer function, e.g. one that waits on a task the test completes, to hold calls in flight.</summary>
    /// <param name="answer">Computes the outputs; receives the call's cancellation token.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="answer"/> is null.</exception>
    public FakeModelRunner AnswerWith(Func<IReadOnlyList<NamedTensor>, CancellationToken, ValueTask<IReadOnlyList<NamedTensor>>> answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        lock (_gate)
        {
            _answer = answer;
        }

        return this;
    }

    /// <summary>Fails every call that passed the checks with <paramref name="exception"/>, e.g. a <see cref="ModelNotReadyException"/>.</summary>
    /// <param name="exception">The exception (the same instance every time).</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    public FakeModelRunner Throws(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return AnswerWith(_ => throw exception);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<NamedTensor>> RunAsync(IReadOnlyList<NamedTensor> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var signature = Signature;
        Func<IReadOnlyList<NamedTensor>, CancellationToken, ValueTask<IReadOnlyList<NamedTensor>>>? answer;
        lock (_gate)
        {
            _calls.Add([.. inputs]);
            answer = _answer;
        }

        cancellationToken.ThrowIfCancellationRequested();
        Check(signature, inputs);
        return answer is null
            ? throw new InvalidOperationException($"FakeModelRunner '{ModelName}' has no answer: configure one with AnswerWith or Throws.")
            : answer(inputs, cancellationToken);
    }

    private void Check(ModelSignature signature, IReadOnlyList<NamedTensor> inputs)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in inputs)
        {
            if (tensor is null)
            {
                throw new ModelInputException(ModelName, null, "an input tensor is null.");
            }

            var spec = signature.FindInput(tensor.Name)
                ?? throw new ModelInputException(ModelName, tensor.Name, $"the model has no input '{tensor.Name}' (its inputs: {string.Join(", ", Names(signature.Inputs))}).");
            if (!seen.Add(tensor.Name))
            {
                throw new ModelInputException(ModelName, tensor.Name, $"input '{tensor.Name}' is given twice.");
            }

            if (tensor.ElementType != spec.ElementType)
            {
                throw new ModelInputException(ModelName, tensor.Name, $"input '{tensor.Name}' is {ModelElementTypes.Describe(tensor.ElementType)}; the model declares {spec}.");
            }

            if (tensor.Shape.Count != spec.Dimensions.Count)
            {
                throw new ModelInputException(ModelName, tensor.Name, string.Create(CultureInfo.InvariantCulture, $"input '{tensor.Name}' has rank {tensor.Shape.Count}; the model declares {spec}."));
            }

            for (var d = 0; d < tensor.Shape.Count; d++)
            {
                if (spec.Dimensions[d] >= 0 && spec.Dimensions[d] != tensor.Shape[d])
                {
                    throw new ModelInputException(ModelName, tensor.Name, string.Create(CultureInfo.InvariantCulture, $"input '{tensor.Name}' has {tensor.Shape[d]} at axis {d}; the model declares {spec}."));
                }
            }
        }

        foreach (var spec in signature.Inputs)
        {
            if (!seen.Contains(spec.Name))
            {
                throw new ModelInputException(ModelName, spec.Name, $"input '{spec.Name}' ({spec}) is missing.");
            }
        }
    }

    private static IEnumerable<string> Names(IReadOnlyList<TensorSpec> specs)
    {
        foreach (var spec in specs)
        {
            yield return spec.Name;
        }
    }

    private FakeModelRunner Declare(List<TensorSpec> specs, string name, ModelElementType elementType, long[] dimensions)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dimensions);
        foreach (var dimension in dimensions)
        {
            if (dimension < -1)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Dimension {dimension} of '{name}' is below -1 (use -1 for a free dimension)."), nameof(dimensions));
            }
        }

        lock (_gate)
        {
            ThrowIfBuilt();
            foreach (var existing in specs)
            {
                if (existing.Name == name)
                {
                    throw new ArgumentException($"'{name}' is already declared.", nameof(name));
                }
            }

            specs.Add(new TensorSpec(name, ModelValueKind.Tensor, elementType, [.. dimensions], Enumerable.Repeat(string.Empty, dimensions.Length).ToArray()));
        }

        return this;
    }

    private void ThrowIfBuilt()
    {
        if (_signature is not null)
        {
            throw new InvalidOperationException($"FakeModelRunner '{ModelName}': its signature was already used; declare every tensor before the first call or Signature read.");
        }
    }
}
