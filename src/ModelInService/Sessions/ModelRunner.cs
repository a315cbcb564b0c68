using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Sessions;

namespace ModelInService;

/// <summary>The named-tensor runner: checks each tensor against the signature, then runs the model once.</summary>
internal sealed class ModelRunner : IModelRunner
{
    private readonly IGenerationSource _host;

    private readonly ModelOptions _options;

    public ModelRunner(IGenerationSource host, ModelOptions options)
    {
        _host = host;
        _options = options;
    }

    public string ModelName => _host.Name;

    public ModelSignature Signature => _host.Current.Signature;

    public async ValueTask<IReadOnlyList<NamedTensor>> RunAsync(IReadOnlyList<NamedTensor> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var runtime = _host.Current;
        var signature = runtime.Signature;
        var ordered = Validate(inputs, signature, _options);
        cancellationToken.ThrowIfCancellationRequested();
        var current = await _host.EnterCurrentAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Unsupported(current.Signature) is { } unsupported)
            {
                throw new ModelInferenceException(ModelName, unsupported, null);
            }

            return Run(current, ordered, current.Signature, cancellationToken);
        }
        finally
        {
            current.Exit();
        }
    }

    private static List<NamedTensor> Run(ModelRuntime runtime, NamedTensor[] inputs, ModelSignature signature, CancellationToken cancellationToken)
    {
        var names = new string[inputs.Length];
        var values = new OrtValue[inputs.Length];
        try
        {
            for (var i = 0; i < inputs.Length; i++)
            {
                names[i] = inputs[i].Name;
                values[i] = ToOrtValue(inputs[i]);
            }

            var outputSpecs = signature.Outputs;
            var outputNames = new string[outputSpecs.Count];
            for (var o = 0; o < outputNames.Length; o++)
            {
                outputNames[o] = outputSpecs[o].RunName;
            }

            using var results = runtime.Run(names, values, outputNames, cancellationToken);
            var tensors = new List<NamedTensor>(outputSpecs.Count);
            for (var o = 0; o < outputSpecs.Count; o++)
            {
                var spec = outputSpecs[o];
                tensors.Add(spec.Kind == ModelValueKind.SequenceOfMaps ? FromSequenceOfMaps(runtime.Name, spec, results[o]) : FromOrtValue(spec.Name, spec.ElementType, results[o]));
            }

            return tensors;
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }
        }
    }

    private NamedTensor[] Validate(IReadOnlyList<NamedTensor> inputs, ModelSignature signature, ModelOptions options)
    {
        var ordered = new NamedTensor[signature.Inputs.Count];
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

            if (spec.Kind != ModelValueKind.Tensor)
            {
                throw new ModelInputException(ModelName, tensor.Name, $"is a {spec}; only tensor inputs can be given as NamedTensor");
            }

            if (spec.ElementType != tensor.ElementType)
            {
                throw new ModelInputException(ModelName, tensor.Name, $"is {ModelElementTypes.Describe(tensor.ElementType)}; the model expects {spec}");
            }

            // ONNX Runtime reports no dimensions both for a scalar and for an input whose shape the model leaves
            // undeclared; the loader read the file to tell them apart (DeclaredTypes). An undeclared shape accepts
            // any tensor; a declared scalar accepts one value of any rank ([1] too: ONNX Runtime reads it as the scalar).
            var fits = spec.Dimensions.Count == 0 ? !spec.IsDeclaredScalar || ElementCount(tensor.Shape) == 1 : spec.Dimensions.Count == tensor.Shape.Count;
            for (var d = 0; fits && spec.Dimensions.Count > 0 && d < tensor.Shape.Count; d++)
            {
                fits = spec.Dimensions[d] < 0 || spec.Dimensions[d] == tensor.Shape[d];
            }

            if (!fits)
            {
                throw new ModelInputException(ModelName, tensor.Name, spec.IsDeclaredScalar
                    ? $"has shape {TensorSpec.DescribeShape(tensor.Shape)}; the model expects a scalar {spec}: give one value (shape [])"
                    : $"has shape {TensorSpec.DescribeShape(tensor.Shape)}; the model expects {spec}");
            }

            CheckValues(tensor, options);
            ordered[index] = tensor;
        }

        for (var i = 0; i < ordered.Length; i++)
        {
            if (ordered[i] is null)
            {
                throw new ModelInputException(ModelName, signature.Inputs[i].Name, $"is missing; the model expects {signature.Inputs[i]}");
            }
        }

        CheckBatchSizes(ordered, signature);
        return ordered;
    }

    /// <summary>
    /// Inputs with a batch axis (<see cref="ModelSignature.Batching"/>: a free first dimension, a per-tensor
    /// <see cref="ModelOptions.BatchAxes"/> such as a recurrent state's axis 1, or none for a per-run input) must agree
    /// on its size; checked here so the caller gets a 400 naming the tensors instead of ONNX Runtime's error from deep
    /// inside the graph (or, for tensors the graph never combines, outputs whose rows do not match).
    /// </summary>
    private void CheckBatchSizes(NamedTensor[] ordered, ModelSignature signature)
    {
        var first = -1;
        var firstAxis = -1;
        for (var i = 0; i < ordered.Length; i++)
        {
            var spec = signature.Inputs[i];
            var axis = signature.Batching.Find(spec.Name)?.Axis ?? -1;
            if (axis < 0 || axis >= ordered[i].Shape.Count || ordered[i].Shape.Count != spec.Dimensions.Count)
            {
                continue;
            }

            if (first < 0)
            {
                first = i;
                firstAxis = axis;
            }
            else if (ordered[i].Shape[axis] != ordered[first].Shape[firstAxis])
            {
                throw new ModelInputException(ModelName, ordered[i].Name,
                    $"has batch size {ordered[i].Shape[axis]} on its batch axis {axis} (shape {TensorSpec.DescribeShape(ordered[i].Shape)}) but '{ordered[first].Name}' has {ordered[first].Shape[firstAxis]} on its batch axis {firstAxis} (shape {TensorSpec.DescribeShape(ordered[first].Shape)}); inputs are batched along their batch axes (ModelSignature.Batching) and must have the same number of rows");
            }
        }
    }

    private static long ElementCount(IReadOnlyList<long> shape)
    {
        long count = 1;
        for (var i = 0; i < shape.Count; i++)
        {
            count *= shape[i];
        }

        return count;
    }

    /// <summary>Describes the outputs a <see cref="NamedTensor"/> cannot carry, or null when it can carry them all.</summary>
    private static string? Unsupported(ModelSignature signature)
    {
        List<string>? unsupported = null;
        foreach (var spec in signature.Outputs)
        {
            var carried = spec.Kind switch
            {
                ModelValueKind.Tensor => spec.ElementType != ModelElementType.Unknown,
                ModelValueKind.SequenceOfMaps => spec.MapKeyType is ModelElementType.Int64 or ModelElementType.String && spec.ElementType is ModelElementType.Float32 or ModelElementType.Float64,
                _ => false,
            };
            if (!carried)
            {
                (unsupported ??= []).Add($"'{spec.Name}' ({spec})");
            }
        }

        return unsupported is null
            ? null
            : $"IModelRunner cannot return output(s) {string.Join(", ", unsupported)}: it returns tensors of the supported element types and sequences of maps (int64 or string keys to float or double values) only";
    }

    private void CheckValues(NamedTensor tensor, ModelOptions options)
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

                    if (strings[i]!.Length > options.MaxStringLength)
                    {
                        throw new ModelInputException(ModelName, $"{tensor.Name}[{i}]", $"is {strings[i]!.Length} characters long; the limit is {options.MaxStringLength} (ModelOptions.MaxStringLength)");
                    }

                    if (Utf16Check.FirstUnpairedSurrogate(strings[i]) is var at and >= 0)
                    {
                        throw new ModelInputException(ModelName, $"{tensor.Name}[{i}]", Utf16Check.Reason(at));
                    }
                }

                break;
            case float[] floats when options.NonFiniteValues == NonFiniteValuePolicy.Reject:
                for (var i = 0; i < floats.Length; i++)
                {
                    if (!float.IsFinite(floats[i]))
                    {
                        throw NonFinite(tensor.Name, i, floats[i].ToString(CultureInfo.InvariantCulture));
                    }
                }

                break;
            case Half[] halves when options.NonFiniteValues == NonFiniteValuePolicy.Reject:
                for (var i = 0; i < halves.Length; i++)
                {
                    if (!Half.IsFinite(halves[i]))
                    {
                        throw NonFinite(tensor.Name, i, halves[i].ToString(CultureInfo.InvariantCulture));
                    }
                }

                break;
            case double[] doubles when options.NonFiniteValues == NonFiniteValuePolicy.Reject:
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

    private static OrtValue ToOrtValue(NamedTensor tensor)
    {
        var shape = new long[tensor.Shape.Count];
        for (var i = 0; i < shape.Length; i++)
        {
            shape[i] = tensor.Shape[i];
        }

        var value = tensor.ElementType == ModelElementType.String
            ? OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape)
            : OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, OrtElementTypes.ToOrt(tensor.ElementType), shape);
        try
        {
            if (tensor.Data is string[] strings)
            {
                for (var i = 0; i < strings.Length; i++)
                {
                    value.StringTensorSetElementAt(strings[i].AsSpan(), i);
                }
            }
            else
            {
                NamedTensor.Bytes(tensor.Data).CopyTo(value.GetTensorMutableRawData());
            }

            return value;
        }
        catch
        {
            value.Dispose();
            throw;
        }
    }

    private static NamedTensor FromSequenceOfMaps(string modelName, TensorSpec spec, OrtValue value) => (spec.MapKeyType, spec.ElementType) switch
    {
        (ModelElementType.Int64, ModelElementType.Float32) => ReadMaps<long, float>(modelName, spec, value),
        (ModelElementType.Int64, ModelElementType.Float64) => ReadMaps<long, double>(modelName, spec, value),
        (ModelElementType.String, ModelElementType.Float32) => ReadMaps<string, float>(modelName, spec, value),
        _ => ReadMaps<string, double>(modelName, spec, value),
    };

    private static NamedTensor ReadMaps<TKey, TValue>(string modelName, TensorSpec spec, OrtValue value)
        where TKey : notnull
        where TValue : unmanaged
    {
        if (spec.ZipMap is { } zipMap)
        {
            return ReadZipMapTensor<TKey>(modelName, spec, zipMap, value);
        }

        var allocator = OrtAllocator.DefaultInstance;
        var maps = new IReadOnlyDictionary<TKey, TValue>[value.GetValueCount()];
        for (var r = 0; r < maps.Length; r++)
        {
            using var map = value.GetValue(r, allocator);
            using var keys = map.GetValue(0, allocator);
            using var values = map.GetValue(1, allocator);
            var v = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, TValue>(values.GetTensorMutableRawData());
            var dictionary = new Dictionary<TKey, TValue>(v.Length);
            if (typeof(TKey) == typeof(long))
            {
                var k = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(keys.GetTensorMutableRawData());
                for (var i = 0; i < k.Length; i++)
                {
                    dictionary[(TKey)(object)k[i]] = v[i];
                }
            }
            else
            {
                for (var i = 0; i < v.Length; i++)
                {
                    dictionary[(TKey)(object)keys.GetStringElement(i)] = v[i];
                }
            }

            maps[r] = dictionary;
        }

        return NamedTensor.FromMaps(spec.Name, spec.MapKeyType, spec.ElementType, maps);
    }

    /// <summary>The maps of a ZipMap removed at load, built from its input tensor (one row of class values per map).</summary>
    private static NamedTensor ReadZipMapTensor<TKey>(string modelName, TensorSpec spec, ZipMapSource zipMap, OrtValue value)
        where TKey : notnull
    {
        var data = value.GetTensorDataAsSpan<float>();
        var width = zipMap.Width;
        if (width == 0 || data.Length % width != 0)
        {
            throw new ModelInferenceException(modelName, $"Model '{modelName}': output '{spec.Name}' came back as {data.Length} values in '{zipMap.TensorName}', not rows of {width} classes.", null);
        }

        var maps = new IReadOnlyDictionary<TKey, float>[data.Length / width];
        for (var r = 0; r < maps.Length; r++)
        {
            var row = data.Slice(r * width, width);
            var dictionary = new Dictionary<TKey, float>(width);
            for (var i = 0; i < width; i++)
            {
                var key = typeof(TKey) == typeof(long) ? (TKey)(object)zipMap.Int64Keys![i] : (TKey)(object)zipMap.StringKeys![i];
                dictionary[key] = row[zipMap.Columns[i]];
            }

            maps[r] = dictionary;
        }

        return NamedTensor.FromMaps(spec.Name, spec.MapKeyType, spec.ElementType, maps);
    }

    private static NamedTensor FromOrtValue(string name, ModelElementType type, OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape;
        if (type == ModelElementType.String)
        {
            return NamedTensor.FromRaw(name, type, shape, value.GetStringTensorAsArray());
        }

        var data = NewArray(type, checked((int)info.ElementCount));
        value.GetTensorMutableRawData().CopyTo(NamedTensor.Bytes(data));
        return NamedTensor.FromRaw(name, type, shape, data);
    }

    /// <summary>A one-dimensional array of the element type, written out per type (no Array.CreateInstance: under Native AOT it may need an array type nobody compiled).</summary>
    private static Array NewArray(ModelElementType type, int length) => type switch
    {
        ModelElementType.Float32 => new float[length],
        ModelElementType.Float64 => new double[length],
        ModelElementType.Float16 => new Half[length],
        ModelElementType.Int8 => new sbyte[length],
        ModelElementType.Int16 => new short[length],
        ModelElementType.Int32 => new int[length],
        ModelElementType.Int64 => new long[length],
        ModelElementType.UInt8 => new byte[length],
        ModelElementType.UInt16 => new ushort[length],
        ModelElementType.UInt32 => new uint[length],
        ModelElementType.UInt64 => new ulong[length],
        ModelElementType.Bool => new bool[length],
        _ => throw new NotSupportedException($"Element type {type} has no CLR array type."),
    };
}
