using System.Globalization;

namespace ModelInService.Testing;

/// <summary>
/// An <see cref="IModelRunner"/> for unit tests of code that runs models on named tensors: declares a signature
/// (<see cref="WithInput(string, ModelElementType, long[])"/>, <see cref="WithOutput(string, ModelElementType, long[])"/>), checks each call's tensors against it as the real runner does,
/// answers from a function and records every call. No model, no ONNX Runtime.
/// </summary>
/// <remarks>
/// <para>
/// The checks are the real runner's, in its order and with its wording: <see cref="ArgumentNullException"/> for a null
/// list; <see cref="ModelInputException"/> naming the tensor for a null, unknown or repeated input, a wrong element
/// type, a shape that does not fit (a dimension declared -1 accepts any length), a NaN or infinity (unless
/// <see cref="AllowNonFiniteValues"/>), a null or over-long string, a missing input or inputs whose batch sizes differ;
/// then <see cref="OperationCanceledException"/> when the token is canceled. As with the real runner, every failure
/// comes through the returned task: the call itself does not throw. A call that fails a check is still recorded.
/// With no answer configured, or an answer that returns an output the signature does not declare, a call fails with
/// <see cref="InvalidOperationException"/> naming what to fix.
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
    private bool _allowNonFinite;

    /// <summary>The real runner's default <c>ModelOptions.MaxStringLength</c>.</summary>
    private const int MaxStringLength = 65_536;

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
    public FakeModelRunner WithInput(string name, ModelElementType elementType, params long[] dimensions) => Declare(_inputs, name, elementType, dimensions, null);

    /// <summary>
    /// Declares a tensor input whose free dimensions have names, as a real model's symbolic dimensions (iris_mlp.onnx's
    /// <c>features</c> is <c>float32 [batch,4]</c>: <c>WithInput("features", ModelElementType.Float32, ["batch", ""], -1, 4)</c>);
    /// the names appear in the spec and so in the messages, as with the real runner.
    /// </summary>
    /// <param name="name">The input's name.</param>
    /// <param name="elementType">Its element type.</param>
    /// <param name="dimensionNames">One name per dimension; used for free ones (-1), empty for none.</param>
    /// <param name="dimensions">Its dimensions; -1 for a free one.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentException">The name is empty or already declared, a dimension is below -1, or the names do not match the dimensions.</exception>
    /// <exception cref="InvalidOperationException">The signature was already used.</exception>
    public FakeModelRunner WithInput(string name, ModelElementType elementType, IReadOnlyList<string> dimensionNames, params long[] dimensions) =>
        Declare(_inputs, name, elementType, dimensions, dimensionNames ?? throw new ArgumentNullException(nameof(dimensionNames)));

    /// <summary>Declares a tensor output.</summary>
    /// <param name="name">The output's name.</param>
    /// <param name="elementType">Its element type.</param>
    /// <param name="dimensions">Its dimensions; -1 for a free one.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentException">The name is empty or already declared, or a dimension is below -1.</exception>
    /// <exception cref="InvalidOperationException">The signature was already used.</exception>
    public FakeModelRunner WithOutput(string name, ModelElementType elementType, params long[] dimensions) => Declare(_outputs, name, elementType, dimensions, null);

    /// <summary>Declares a tensor output whose free dimensions have names, as a real model's symbolic dimensions.</summary>
    /// <param name="name">The output's name.</param>
    /// <param name="elementType">Its element type.</param>
    /// <param name="dimensionNames">One name per dimension; used for free ones (-1), empty for none.</param>
    /// <param name="dimensions">Its dimensions; -1 for a free one.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentException">The name is empty or already declared, a dimension is below -1, or the names do not match the dimensions.</exception>
    /// <exception cref="InvalidOperationException">The signature was already used.</exception>
    public FakeModelRunner WithOutput(string name, ModelElementType elementType, IReadOnlyList<string> dimensionNames, params long[] dimensions) =>
        Declare(_outputs, name, elementType, dimensions, dimensionNames ?? throw new ArgumentNullException(nameof(dimensionNames)));

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
    /// <param name="answer">
    /// Computes the outputs from the inputs: every declared output, each of its declared element type, rank and fixed
    /// dimensions, in any order (the call returns them in the signature's order, as the real runner); may throw (for
    /// example a <see cref="ModelInferenceException"/>).
    /// </param>
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

    /// <summary>
    /// Accepts NaN and infinities in float, double and half inputs, as the real runner does with
    /// <c>ModelOptions.NonFiniteValues = NonFiniteValuePolicy.Allow</c>; by default they are rejected, as by the real runner.
    /// </summary>
    /// <returns>This fake.</returns>
    public FakeModelRunner AllowNonFiniteValues()
    {
        lock (_gate)
        {
            _allowNonFinite = true;
        }

        return this;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Every failure is reported through the returned task, never thrown by the call itself, as by the real runner: a
    /// null list (<see cref="ArgumentNullException"/>), inputs that do not fit the signature
    /// (<see cref="ModelInputException"/>, checked before the token), a canceled token, no answer configured and an
    /// answer that names an output the signature does not declare (<see cref="InvalidOperationException"/>).
    /// </remarks>
    public async ValueTask<IReadOnlyList<NamedTensor>> RunAsync(IReadOnlyList<NamedTensor> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var signature = Signature;
        Func<IReadOnlyList<NamedTensor>, CancellationToken, ValueTask<IReadOnlyList<NamedTensor>>>? answer;
        bool allowNonFinite;
        lock (_gate)
        {
            _calls.Add([.. inputs]);
            answer = _answer;
            allowNonFinite = _allowNonFinite;
        }

        // The real runner's order: the inputs are checked first, then the token.
        Check(signature, inputs, allowNonFinite);
        cancellationToken.ThrowIfCancellationRequested();
        if (answer is null)
        {
            throw new InvalidOperationException($"FakeModelRunner '{ModelName}' has no answer: configure one with AnswerWith or Throws.");
        }

        var outputs = await answer(inputs, cancellationToken).ConfigureAwait(false);
        return CheckOutputs(signature, outputs);
    }

    /// <summary>The real runner's input checks (ModelRunner.Validate in the core), with its wording.</summary>
    private void Check(ModelSignature signature, IReadOnlyList<NamedTensor> inputs, bool allowNonFinite)
    {
        var ordered = new NamedTensor?[signature.Inputs.Count];
        var position = -1;
        foreach (var tensor in inputs)
        {
            position++;
            if (tensor is null)
            {
                throw new ModelInputException(ModelName, null, string.Create(CultureInfo.InvariantCulture, $"the tensor at position {position} of the list is null"));
            }

            var index = -1;
            for (var i = 0; i < signature.Inputs.Count; i++)
            {
                if (signature.Inputs[i].Name == tensor.Name)
                {
                    index = i;
                }
            }

            if (index < 0)
            {
                throw new ModelInputException(ModelName, tensor.Name, $"is not an input of the model (inputs: {string.Join(", ", signature.Inputs.Select(s => $"'{s.Name}'"))})");
            }

            if (ordered[index] is not null)
            {
                throw new ModelInputException(ModelName, tensor.Name, "is given twice");
            }

            var spec = signature.Inputs[index];
            if (tensor.Kind != ModelValueKind.Tensor)
            {
                throw new ModelInputException(ModelName, tensor.Name, $"is a {tensor.Kind} value; inputs must be tensors (NamedTensor.Create)");
            }

            if (spec.ElementType != tensor.ElementType)
            {
                throw new ModelInputException(ModelName, tensor.Name, $"is {ModelElementTypes.Describe(tensor.ElementType)}; the model expects {spec}");
            }

            // As the real runner: a spec without dimensions (a scalar or an undeclared shape) accepts any shape.
            var fits = spec.Dimensions.Count == 0 || spec.Dimensions.Count == tensor.Shape.Count;
            for (var d = 0; fits && spec.Dimensions.Count > 0 && d < tensor.Shape.Count; d++)
            {
                fits = spec.Dimensions[d] < 0 || spec.Dimensions[d] == tensor.Shape[d];
            }

            if (!fits)
            {
                throw new ModelInputException(ModelName, tensor.Name, $"has shape {TensorSpec.DescribeShape(tensor.Shape)}; the model expects {spec}");
            }

            CheckValues(tensor, allowNonFinite);
            ordered[index] = tensor;
        }

        for (var i = 0; i < ordered.Length; i++)
        {
            if (ordered[i] is null)
            {
                throw new ModelInputException(ModelName, signature.Inputs[i].Name, $"is missing; the model expects {signature.Inputs[i]}");
            }
        }

        CheckBatchSizes(ordered!, signature);
    }

    /// <summary>
    /// Inputs with a batch axis must agree on its size, as in the real runner; the fake's batch axis is a free first
    /// dimension (the real runner's <see cref="ModelSignature.Batching"/> analysis of a loaded model).
    /// </summary>
    private void CheckBatchSizes(NamedTensor[] ordered, ModelSignature signature)
    {
        var first = -1;
        for (var i = 0; i < ordered.Length; i++)
        {
            var spec = signature.Inputs[i];
            if (!spec.HasDynamicBatch || ordered[i].Shape.Count != spec.Dimensions.Count)
            {
                continue;
            }

            if (first < 0)
            {
                first = i;
            }
            else if (ordered[i].Shape[0] != ordered[first].Shape[0])
            {
                throw new ModelInputException(ModelName, ordered[i].Name, string.Create(CultureInfo.InvariantCulture,
                    $"has batch size {ordered[i].Shape[0]} on its batch axis 0 (shape {TensorSpec.DescribeShape(ordered[i].Shape)}) but '{ordered[first].Name}' has {ordered[first].Shape[0]} on its batch axis 0 (shape {TensorSpec.DescribeShape(ordered[first].Shape)}); inputs are batched along their batch axes (ModelSignature.Batching) and must have the same number of rows"));
            }
        }
    }

    /// <summary>The real runner's value checks with its default options (strings up to 65,536 characters; non-finite numbers rejected unless allowed).</summary>
    private void CheckValues(NamedTensor tensor, bool allowNonFinite)
    {
        switch (tensor.Data)
        {
            case string?[] strings:
                for (var i = 0; i < strings.Length; i++)
                {
                    if (strings[i] is null)
                    {
                        throw new ModelInputException(ModelName, $"{tensor.Name}[{i}]", "is null");
                    }

                    if (strings[i]!.Length > MaxStringLength)
                    {
                        throw new ModelInputException(ModelName, $"{tensor.Name}[{i}]", string.Create(CultureInfo.InvariantCulture, $"is {strings[i]!.Length} characters long; the limit is {MaxStringLength} (ModelOptions.MaxStringLength)"));
                    }

                    if (Utf16Check.FirstUnpairedSurrogate(strings[i]) is var at and >= 0)
                    {
                        throw new ModelInputException(ModelName, $"{tensor.Name}[{i}]", Utf16Check.Reason(at));
                    }
                }

                break;
            case float[] floats when !allowNonFinite:
                for (var i = 0; i < floats.Length; i++)
                {
                    if (!float.IsFinite(floats[i]))
                    {
                        throw NonFinite(tensor.Name, i, floats[i].ToString(CultureInfo.InvariantCulture));
                    }
                }

                break;
            case Half[] halves when !allowNonFinite:
                for (var i = 0; i < halves.Length; i++)
                {
                    if (!Half.IsFinite(halves[i]))
                    {
                        throw NonFinite(tensor.Name, i, halves[i].ToString(CultureInfo.InvariantCulture));
                    }
                }

                break;
            case double[] doubles when !allowNonFinite:
                for (var i = 0; i < doubles.Length; i++)
                {
                    if (!double.IsFinite(doubles[i]))
                    {
                        throw NonFinite(tensor.Name, i, doubles[i].ToString(CultureInfo.InvariantCulture));
                    }
                }

                break;
        }
    }

    private ModelInputException NonFinite(string name, int index, string value) =>
        new(ModelName, $"{name}[{index}]", $"is {value}; non-finite values are rejected (set ModelOptions.NonFiniteValues = Allow to accept them)");

    /// <summary>
    /// The real runner returns every declared output, in the signature's order, each of its declared element type, rank
    /// and fixed dimensions: an answer that names another one, repeats one, leaves one out or gives one another element
    /// type or shape is a mistake in the test's set-up. The outputs are returned in the signature's order, as the real
    /// runner's, whatever order the answer used.
    /// </summary>
    private List<NamedTensor> CheckOutputs(ModelSignature signature, IReadOnlyList<NamedTensor>? outputs)
    {
        var declared = string.Join(", ", signature.Outputs.Select(s => $"'{s.Name}' ({s})"));
        if (outputs is null)
        {
            throw new InvalidOperationException($"FakeModelRunner '{ModelName}': the answer returned null; return the outputs the signature declares: {declared}.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var output in outputs)
        {
            if (output is null)
            {
                throw new InvalidOperationException($"FakeModelRunner '{ModelName}': the answer returned a null output; return the outputs the signature declares: {declared}.");
            }

            var spec = signature.FindOutput(output.Name)
                ?? throw new InvalidOperationException($"FakeModelRunner '{ModelName}': the answer returned output '{output.Name}', which the signature does not declare (outputs: {declared}); the real runner returns declared outputs only: declare it with WithOutput or rename it.");
            if (!seen.Add(output.Name))
            {
                throw new InvalidOperationException($"FakeModelRunner '{ModelName}': the answer returned output '{output.Name}' twice.");
            }

            if (output.ElementType != spec.ElementType)
            {
                throw new InvalidOperationException($"FakeModelRunner '{ModelName}': the answer returned output '{output.Name}' as {ModelElementTypes.Describe(output.ElementType)}; the signature declares {spec}.");
            }

            if (output.Shape.Count != spec.Dimensions.Count || output.Shape.Where((d, i) => spec.Dimensions[i] >= 0 && d != spec.Dimensions[i]).Any())
            {
                throw new InvalidOperationException($"FakeModelRunner '{ModelName}': the answer returned output '{output.Name}' with shape {TensorSpec.DescribeShape(output.Shape)}; the signature declares {spec}.");
            }
        }

        var ordered = new List<NamedTensor>(signature.Outputs.Count);
        foreach (var spec in signature.Outputs)
        {
            ordered.Add(outputs.FirstOrDefault(o => string.Equals(o.Name, spec.Name, StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"FakeModelRunner '{ModelName}': the answer did not return output '{spec.Name}' ({spec}); the real runner returns every declared output (outputs: {declared})."));
        }

        return ordered;
    }

    private FakeModelRunner Declare(List<TensorSpec> specs, string name, ModelElementType elementType, long[] dimensions, IReadOnlyList<string>? dimensionNames)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dimensions);
        if (dimensionNames is not null && (dimensionNames.Count != dimensions.Length || dimensionNames.Any(n => n is null)))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"'{name}' has {dimensions.Length} dimensions and {dimensionNames.Count} dimension names: give one name (or \"\") per dimension."), nameof(dimensionNames));
        }

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

            specs.Add(new TensorSpec(name, ModelValueKind.Tensor, elementType, [.. dimensions], dimensionNames is null ? Enumerable.Repeat(string.Empty, dimensions.Length).ToArray() : [.. dimensionNames]));
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
