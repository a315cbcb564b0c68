using System.Diagnostics.CodeAnalysis;
using System.Buffers;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelInService.Schema;
using ModelInService.Sessions;

namespace ModelInService.Streaming;

/// <summary>One chunk of one stream on its way through the batcher: the stream (its state) and the caller's chunk.</summary>
internal readonly struct StreamStep<TChunk>(StreamSlot slot, TChunk chunk)
{
    public StreamSlot Slot { get; } = slot;

    public TChunk Chunk { get; } = chunk;
}

/// <summary>
/// A chunk's answer and the stream's next state (a rented buffer laid out like <see cref="StreamSlot.State"/>), which
/// the stream's caller commits only once the chunk succeeded, then returns to the pool.
/// </summary>
internal readonly struct StepResult<TResult>(TResult result, float[]? next)
{
    public TResult Result { get; } = result;

    public float[]? Next { get; } = next;
}

/// <summary>Where one state tensor lives in a stream's state buffer and how it stacks into a batch.</summary>
/// <param name="Input">The state input.</param>
/// <param name="Output">The output holding the next state.</param>
/// <param name="Axis">The batch axis.</param>
/// <param name="Dimensions">The input's declared dimensions (the batch axis free).</param>
/// <param name="Outer">The product of the dimensions before the batch axis.</param>
/// <param name="Inner">The product of the dimensions after the batch axis.</param>
/// <param name="Offset">The state's first float in the stream's buffer.</param>
/// <param name="Initialize">The declared initial value, or null for zeros.</param>
internal sealed record StateLayout(string Input, string Output, int Axis, long[] Dimensions, int Outer, int Inner, int Offset, StreamStateInitializer? Initialize)
{
    public int Floats => Outer * Inner;

    public long[] ShapeFor(int rows)
    {
        var shape = (long[])Dimensions.Clone();
        shape[Axis] = rows;
        return shape;
    }
}

/// <summary>
/// The compiled mapping of a streaming model, built and checked once when the model loads: the state tensors (declared
/// or found from the signature), the context input, the constants, and the typed binder of <typeparamref name="TChunk"/>
/// and <typeparamref name="TResult"/> over the rest of the signature. <see cref="Run"/> stacks the chunks and states of
/// several streams on their batch axes, runs once and splits the outputs and next states back per stream.
/// </summary>
internal sealed class StreamingBinder<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TChunk, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TResult> : IModelBinder
{
    private readonly TypedBinder<TChunk, TResult> _inner;
    private readonly StateLayout[] _states;
    private readonly Func<OrtValue>[] _constants;
    private readonly int _contextIndex;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    private StreamingBinder(TypedBinder<TChunk, TResult> inner, StateLayout[] states, int contextIndex, int contextLength, string[] constantNames, Func<OrtValue>[] constants)
    {
        _inner = inner;
        _states = states;
        _contextIndex = contextIndex;
        ContextLength = contextIndex >= 0 ? contextLength : 0;
        _constants = constants;
        var floats = 0;
        foreach (var state in states)
        {
            floats += state.Floats;
        }

        ContextOffset = floats;
        StateFloats = floats + ContextLength;
        _inputNames = [.. inner.InputNames, .. states.Select(static s => s.Input), .. constantNames];
        _outputNames = [.. inner.OutputNames, .. states.Select(static s => s.Output)];
    }

    public string ModelName => _inner.ModelName;

    public bool Batchable => _inner.Batchable;

    public ModelBatchingInfo Batching => _inner.Batching;

    /// <summary>Floats per stream: every state without its batch axis, then the context.</summary>
    public int StateFloats { get; }

    /// <summary>Where the context starts in a stream's buffer.</summary>
    public int ContextOffset { get; }

    public int ContextLength { get; }

    public IReadOnlyList<StateLayout> States => _states;

    /// <summary>For the load log: the states, context and constants.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        foreach (var state in _states)
        {
            parts.Add($"state '{state.Output}' -> '{state.Input}' {TensorSpec.DescribeShape(state.Dimensions)} (batch axis {state.Axis}, {state.Floats} floats per stream)");
        }

        if (ContextLength > 0)
        {
            parts.Add($"context: the last {ContextLength} values of '{_inner.InputNames[_contextIndex]}' prepended to the next chunk");
        }

        return string.Join("; ", parts);
    }

    public void Validate(TChunk chunk) => _inner.Validate(chunk);

    public long BucketOf(TChunk chunk) => _inner.BucketOf(chunk);

    /// <summary>Writes a new stream's initial state (declared values or zeros, context zeros) into <paramref name="state"/>.</summary>
    public void Initialize(string streamId, Span<float> state)
    {
        state.Clear();
        foreach (var layout in _states)
        {
            layout.Initialize?.Invoke(streamId, state.Slice(layout.Offset, layout.Floats));
        }
    }

    /// <summary>
    /// Runs the chunks of <paramref name="rows"/> (one per stream, every stream distinct) with their states, on a slot
    /// the caller holds. Reads the streams' states, never writes them: each row's next state comes back in its result.
    /// </summary>
    public StepResult<TResult>[] Run(ModelRuntime runtime, ReadOnlySpan<StreamStep<TChunk>> rows, CancellationToken cancellationToken)
    {
        var n = rows.Length;
        for (var r = 0; r < n; r++)
        {
            if (rows[r].Slot.State.Length < StateFloats)
            {
                throw new ModelInferenceException(ModelName, $"Stream '{rows[r].Slot.Id}' of model '{ModelName}' was opened on a version whose state holds {rows[r].Slot.State.Length} floats; the version serving now needs {StateFloats} (a reload changed the state's shape). Open a new stream.", null);
            }
        }

        var chunks = ArrayPool<TChunk>.Shared.Rent(n);
        var values = new OrtValue[_inputNames.Length];
        try
        {
            for (var r = 0; r < n; r++)
            {
                chunks[r] = rows[r].Chunk;
            }

            var innerInputs = _inner.Inputs;
            for (var i = 0; i < innerInputs.Length; i++)
            {
                var packed = innerInputs[i].Pack(new ReadOnlySpan<TChunk>(chunks, 0, n));
                if (i == _contextIndex)
                {
                    using (packed)
                    {
                        values[i] = WithContext(packed, rows);
                    }
                }
                else
                {
                    values[i] = packed;
                }
            }

            for (var s = 0; s < _states.Length; s++)
            {
                values[innerInputs.Length + s] = PackState(_states[s], rows);
            }

            for (var c = 0; c < _constants.Length; c++)
            {
                values[innerInputs.Length + _states.Length + c] = _constants[c]();
            }

            using var results = runtime.Run(_inputNames, values, _outputNames, cancellationToken);
            return Unpack(results, values, rows);
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }

            Array.Clear(chunks, 0, n);
            ArrayPool<TChunk>.Shared.Return(chunks);
        }
    }

    private StepResult<TResult>[] Unpack(IDisposableReadOnlyCollection<OrtValue> results, OrtValue[] values, ReadOnlySpan<StreamStep<TChunk>> rows)
    {
        var n = rows.Length;
        var outputs = new TResult[n];
        for (var r = 0; r < n; r++)
        {
            outputs[r] = _inner.NewOutput();
        }

        ModelNonFiniteOutputException?[]? failures = null;
        var innerOutputs = _inner.Outputs;
        for (var o = 0; o < innerOutputs.Length; o++)
        {
            innerOutputs[o].Unpack(results[o], outputs, n, ref failures);
        }

        var next = new float[n][];
        for (var r = 0; r < n; r++)
        {
            next[r] = ArrayPool<float>.Shared.Rent(StateFloats);
        }

        for (var s = 0; s < _states.Length; s++)
        {
            UnpackState(_states[s], results[innerOutputs.Length + s], next);
        }

        if (ContextLength > 0)
        {
            // The next context is the tail of the row the model saw (context + chunk), as Silero's wrapper keeps it.
            var combined = values[_contextIndex];
            var width = (int)combined.GetTensorTypeAndShape().Shape[1];
            var data = combined.GetTensorDataAsSpan<float>();
            for (var r = 0; r < n; r++)
            {
                data.Slice((r * width) + width - ContextLength, ContextLength).CopyTo(next[r].AsSpan(ContextOffset, ContextLength));
            }
        }

        var steps = new StepResult<TResult>[n];
        for (var r = 0; r < n; r++)
        {
            steps[r] = new StepResult<TResult>(outputs[r], next[r]);
        }

        if (failures is not null)
        {
            throw n == 1 ? failures[0]! : new PartialOutputException<StepResult<TResult>>(ModelName, steps, failures);
        }

        return steps;
    }

    /// <summary>The chunk input with each stream's context prepended: <c>[N, C + L]</c> from the packed <c>[N, L]</c>.</summary>
    private OrtValue WithContext(OrtValue packed, ReadOnlySpan<StreamStep<TChunk>> rows)
    {
        var shape = packed.GetTensorTypeAndShape().Shape;
        var n = rows.Length;
        var length = (int)shape[1];
        var width = ContextLength + length;
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [n, width]);
        var source = packed.GetTensorDataAsSpan<float>();
        var destination = value.GetTensorMutableDataAsSpan<float>();
        for (var r = 0; r < n; r++)
        {
            rows[r].Slot.State.AsSpan(ContextOffset, ContextLength).CopyTo(destination.Slice(r * width, ContextLength));
            source.Slice(r * length, length).CopyTo(destination.Slice((r * width) + ContextLength, length));
        }

        return value;
    }

    /// <summary>Stacks the streams' states on the batch axis: <c>[outer, N, inner]</c>.</summary>
    private static OrtValue PackState(StateLayout layout, ReadOnlySpan<StreamStep<TChunk>> rows)
    {
        var n = rows.Length;
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, layout.ShapeFor(n));
        var destination = value.GetTensorMutableDataAsSpan<float>();
        var inner = layout.Inner;
        for (var r = 0; r < n; r++)
        {
            var state = rows[r].Slot.State;
            for (var o = 0; o < layout.Outer; o++)
            {
                state.AsSpan(layout.Offset + (o * inner), inner).CopyTo(destination.Slice(((o * n) + r) * inner, inner));
            }
        }

        return value;
    }

    /// <summary>Splits the next state back per stream; a shape other than the input's (a growing state) fails the run.</summary>
    private void UnpackState(StateLayout layout, OrtValue value, float[][] next)
    {
        var n = next.Length;
        var shape = value.GetTensorTypeAndShape().Shape;
        var expected = layout.ShapeFor(n);
        if (!shape.AsSpan().SequenceEqual(expected))
        {
            throw new ModelInferenceException(ModelName, $"Model '{ModelName}' returned state '{layout.Output}' with shape {TensorSpec.DescribeShape(shape)} for input '{layout.Input}' of shape {TensorSpec.DescribeShape(expected)}: streaming needs the next state shaped like the state it was given.", null);
        }

        var source = value.GetTensorDataAsSpan<float>();
        var inner = layout.Inner;
        for (var r = 0; r < n; r++)
        {
            for (var o = 0; o < layout.Outer; o++)
            {
                source.Slice(((o * n) + r) * inner, inner).CopyTo(next[r].AsSpan(layout.Offset + (o * inner), inner));
            }
        }
    }

    /// <summary>Builds the binder; every mismatch is collected into one <see cref="ModelSchemaException"/>.</summary>
    public static StreamingBinder<TChunk, TResult> Create(string modelName, ModelSignature signature, ModelOptions options)
    {
        var streaming = options.Streaming ?? new StreamingOptions();
        var errors = new List<string>();
        var states = BindStates(signature, streaming, errors);
        var stateInputs = new HashSet<string>(states.Select(static s => s.Input), StringComparer.Ordinal);
        var stateOutputs = new HashSet<string>(states.Select(static s => s.Output), StringComparer.Ordinal);

        var constantNames = new List<string>();
        var constants = new List<Func<OrtValue>>();
        foreach (var (name, value) in streaming.Constants)
        {
            if (signature.FindInput(name) is not { } spec)
            {
                errors.Add($"StreamingOptions.Constants names '{name}', which is not an input of the model (inputs: {Names(signature.Inputs)})");
                continue;
            }

            if (Constant(spec, value, errors) is { } constant)
            {
                constantNames.Add(name);
                constants.Add(constant);
            }
        }

        var contextIndex = -1;
        var inputs = new List<TensorSpec>();
        foreach (var spec in signature.Inputs)
        {
            if (stateInputs.Contains(spec.Name) || streaming.Constants.ContainsKey(spec.Name))
            {
                continue;
            }

            if (spec.Name == streaming.ContextInput)
            {
                if (spec.ElementType != ModelElementType.Float32 || spec.Dimensions.Count != 2)
                {
                    errors.Add($"StreamingOptions.ContextInput '{spec.Name}' is {spec}; a context needs a float32 input [batch, samples]");
                }
                else if (spec.Dimensions[1] >= 0 && spec.Dimensions[1] <= streaming.ContextLength)
                {
                    errors.Add($"StreamingOptions.ContextInput '{spec.Name}' is {spec}: its row of {spec.Dimensions[1]} values has no room for a chunk after the {streaming.ContextLength} values of context");
                }
                else
                {
                    // The caller's chunk is the row without the context: a fixed row of 576 takes chunks of 512.
                    var dims = spec.Dimensions.ToArray();
                    if (dims[1] >= 0)
                    {
                        dims[1] -= streaming.ContextLength;
                    }

                    contextIndex = inputs.Count;
                    inputs.Add(new TensorSpec(spec.Name, spec.Kind, spec.ElementType, dims, [.. spec.SymbolicDimensions], spec.MapKeyType));
                    continue;
                }
            }

            inputs.Add(spec);
        }

        if (streaming.ContextInput is { } contextInput && signature.FindInput(contextInput) is null)
        {
            errors.Add($"StreamingOptions.ContextInput names '{contextInput}', which is not an input of the model (inputs: {Names(signature.Inputs)})");
        }

        var outputs = new List<TensorSpec>();
        foreach (var spec in signature.Outputs)
        {
            if (!stateOutputs.Contains(spec.Name))
            {
                outputs.Add(spec);
            }
        }

        if (errors.Count > 0)
        {
            throw new ModelSchemaException(modelName, errors);
        }

        // The chunk and result types bind the rest of the signature with the usual rules (docs/schemas.md).
        var rest = new ModelSignature(inputs, outputs, signature.Metadata, signature.ProducerName, signature.Version);
        var innerOptions = options.Clone();
        foreach (var name in innerOptions.BatchAxes.Keys.ToArray())
        {
            if (rest.FindInput(name) is null && rest.FindOutput(name) is null)
            {
                innerOptions.BatchAxes.Remove(name);
            }
        }

        var inner = SchemaMatcher<TChunk, TResult>.Bind(modelName, rest, innerOptions);
        return new StreamingBinder<TChunk, TResult>(inner, states, contextIndex, streaming.ContextLength, [.. constantNames], [.. constants]);
    }

    private static StateLayout[] BindStates(ModelSignature signature, StreamingOptions streaming, List<string> errors)
    {
        List<StreamStateBinding> declared = streaming.States.Count > 0 || !streaming.DetectStates ? [.. streaming.States] : Detect(signature);
        if (declared.Count == 0)
        {
            errors.Add($"no state: declare it with StreamingOptions.AddState(\"input\", \"output\", batchAxis) (no output of the model is named like an input plus N, _out or _next, or present* for past*; inputs: {Names(signature.Inputs)}; outputs: {Names(signature.Outputs)})");
            return [];
        }

        var layouts = new List<StateLayout>();
        var offset = 0;
        foreach (var binding in declared)
        {
            var input = signature.FindInput(binding.Input);
            var output = signature.FindOutput(binding.Output);
            if (input is null)
            {
                errors.Add($"state input '{binding.Input}' is not an input of the model (inputs: {Names(signature.Inputs)})");
            }

            if (output is null)
            {
                errors.Add($"state output '{binding.Output}' is not an output of the model (outputs: {Names(signature.Outputs)})");
            }

            if (input is null || output is null)
            {
                continue;
            }

            if (input.Kind != ModelValueKind.Tensor || input.ElementType != ModelElementType.Float32 || output.ElementType != ModelElementType.Float32)
            {
                errors.Add($"state '{input.Name}' is {input} and its next state '{output.Name}' is {output}; streaming supports float32 state tensors");
                continue;
            }

            var rank = input.Dimensions.Count;
            if (output.Dimensions.Count != rank)
            {
                errors.Add($"state '{input.Name}' {input} and its next state '{output.Name}' {output} have different ranks");
                continue;
            }

            var axis = binding.BatchAxis;
            if (axis < 0)
            {
                var free = new List<int>();
                for (var d = 0; d < rank; d++)
                {
                    if (input.Dimensions[d] < 0)
                    {
                        free.Add(d);
                    }
                }

                if (free.Count > 1 && BatchSymbolAxis(signature, input, free) is { } named)
                {
                    // gpt2's past_* [2,batch,4,past_seq,8]: the free dimension named like the other inputs' batch.
                    free.Clear();
                    free.Add(named);
                }

                if (free.Count != 1)
                {
                    errors.Add(free.Count == 0
                        ? $"state '{input.Name}' {input} has no free dimension to stack streams on; export it with a dynamic batch dimension"
                        : $"state '{input.Name}' {input} has {free.Count} free dimensions (axes {string.Join(", ", free)}) and its next state '{output.Name}' is {output}: if one is the batch, say which (AddState(\"{input.Name}\", \"{output.Name}\", batchAxis: N)); any other makes the state's size change from chunk to chunk (a growing sequence, such as a transformer's past keys and values), and streaming models support fixed-size states only");
                    continue;
                }

                axis = free[0];
            }

            if (axis >= rank)
            {
                errors.Add($"state '{input.Name}' {input}: batch axis {axis} is out of range (rank {rank})");
                continue;
            }

            if (input.Dimensions[axis] >= 0)
            {
                errors.Add($"state '{input.Name}' {input}: batch axis {axis} is fixed at {input.Dimensions[axis]}; streams can only be stacked on a free dimension");
                continue;
            }

            var ok = true;
            long outer = 1, inner = 1;
            for (var d = 0; d < rank && ok; d++)
            {
                if (d == axis)
                {
                    continue;
                }

                var size = input.Dimensions[d];
                if (size < 0)
                {
                    var symbol = d < input.SymbolicDimensions.Count && input.SymbolicDimensions[d].Length > 0 ? $" ('{input.SymbolicDimensions[d]}')" : "";
                    var outSymbol = d < output.SymbolicDimensions.Count && output.SymbolicDimensions[d].Length > 0 ? $" ('{output.SymbolicDimensions[d]}')" : "";
                    errors.Add($"state '{input.Name}' {input} has a free dimension at axis {d}{symbol} besides its batch axis {axis}, and its next state '{output.Name}' is {output}{outSymbol}: the state's size changes from chunk to chunk (a growing sequence, such as a transformer's past keys and values). Streaming models support fixed-size states only (RNN/LSTM states such as Silero VAD's); serve this model with AddModel or IModelRunner and keep the growing cache in your code");
                    ok = false;
                }
                else if (output.Dimensions[d] >= 0 && output.Dimensions[d] != size)
                {
                    errors.Add($"state '{input.Name}' {input} and its next state '{output.Name}' {output} differ at axis {d}");
                    ok = false;
                }
                else if (d < axis)
                {
                    outer *= size;
                }
                else
                {
                    inner *= size;
                }
            }

            if (!ok)
            {
                continue;
            }

            if (outer * inner > 16 * 1024 * 1024)
            {
                errors.Add($"state '{input.Name}' {input} holds {outer * inner} floats per stream; more than 16 Mi floats is not supported");
                continue;
            }

            var layout = new StateLayout(input.Name, output.Name, axis, input.Dimensions.ToArray(), (int)outer, (int)inner, offset, binding.Initialize);
            offset += layout.Floats;
            layouts.Add(layout);
        }

        return [.. layouts];
    }

    /// <summary>The free axis of <paramref name="state"/> whose symbol is the first (batch) dimension's symbol of another input.</summary>
    private static int? BatchSymbolAxis(ModelSignature signature, TensorSpec state, List<int> free)
    {
        foreach (var other in signature.Inputs)
        {
            if (ReferenceEquals(other, state) || other.SymbolicDimensions.Count == 0 || other.SymbolicDimensions[0].Length == 0)
            {
                continue;
            }

            foreach (var axis in free)
            {
                if (axis < state.SymbolicDimensions.Count && state.SymbolicDimensions[axis] == other.SymbolicDimensions[0])
                {
                    return axis;
                }
            }
        }

        return null;
    }

    /// <summary>Pairs found from the names: <c>state</c> → <c>stateN</c>, <c>h</c> → <c>hn</c>, <c>x_out</c>, <c>x_next</c>, <c>past_i</c> → <c>present_i</c>.</summary>
    private static List<StreamStateBinding> Detect(ModelSignature signature)
    {
        var found = new List<StreamStateBinding>();
        foreach (var input in signature.Inputs)
        {
            string[] candidates = [input.Name + "N", input.Name + "n", input.Name + "_out", input.Name + "_next", input.Name.Replace("past", "present", StringComparison.Ordinal)];
            foreach (var name in candidates)
            {
                if (name != input.Name && signature.FindOutput(name) is { } output && output.Dimensions.Count == input.Dimensions.Count)
                {
                    found.Add(new StreamStateBinding(input.Name, output.Name));
                    break;
                }
            }
        }

        return found;
    }

    private static Func<OrtValue>? Constant(TensorSpec spec, object value, List<string> errors)
    {
        var shape = new long[spec.Dimensions.Count];
        for (var d = 0; d < shape.Length; d++)
        {
            if (spec.Dimensions[d] != 1)
            {
                errors.Add($"constant input '{spec.Name}' is {spec}; a constant must be a scalar (every dimension 1)");
                return null;
            }

            shape[d] = 1;
        }

        try
        {
            switch (spec.ElementType)
            {
                case ModelElementType.Int64:
                    var l = new[] { Convert.ToInt64(value, CultureInfo.InvariantCulture) };
                    return () => OrtValue.CreateTensorValueFromMemory(l, shape);
                case ModelElementType.Int32:
                    var i = new[] { Convert.ToInt32(value, CultureInfo.InvariantCulture) };
                    return () => OrtValue.CreateTensorValueFromMemory(i, shape);
                case ModelElementType.Float32:
                    var f = new[] { Convert.ToSingle(value, CultureInfo.InvariantCulture) };
                    return () => OrtValue.CreateTensorValueFromMemory(f, shape);
                case ModelElementType.Float64:
                    var d = new[] { Convert.ToDouble(value, CultureInfo.InvariantCulture) };
                    return () => OrtValue.CreateTensorValueFromMemory(d, shape);
                default:
                    errors.Add($"constant input '{spec.Name}' is {spec}; constants support int64, int32, float32 and float64 inputs");
                    return null;
            }
        }
        catch (Exception ex) when (ex is FormatException or InvalidCastException or OverflowException)
        {
            errors.Add($"constant input '{spec.Name}' ({spec}) cannot take the value {value} ({value.GetType().Name}): {ex.Message}");
            return null;
        }
    }

    private static string Names(IReadOnlyList<TensorSpec> specs) => string.Join(", ", specs.Select(static s => $"'{s.Name}' {s}"));
}
