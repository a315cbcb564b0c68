using Microsoft.ML.OnnxRuntime;
using ModelInService.TestUtilities;

namespace ModelInService.Conformance.Tests;

/// <summary>Converts between <see cref="TestTensor"/> and ONNX Runtime's <see cref="OrtValue"/> (tensors only).</summary>
internal static class OrtTensors
{
    public static OrtValue ToOrtValue(TestTensor tensor)
    {
        var shape = tensor.Dims;
        // Switch on the element type, not the array type: the CLR lets byte[] match an sbyte[] pattern (and so on).
        switch (tensor.ElementType)
        {
            case OnnxDataType.String:
                var strings = tensor.As<string>();
                var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
                for (var i = 0; i < strings.Length; i++)
                {
                    value.StringTensorSetElementAt(strings[i].AsSpan(), i);
                }

                return value;
            case OnnxDataType.Float: return OrtValue.CreateTensorValueFromMemory(tensor.As<float>(), shape);
            case OnnxDataType.Double: return OrtValue.CreateTensorValueFromMemory(tensor.As<double>(), shape);
            case OnnxDataType.Int64: return OrtValue.CreateTensorValueFromMemory(tensor.As<long>(), shape);
            case OnnxDataType.Int32: return OrtValue.CreateTensorValueFromMemory(tensor.As<int>(), shape);
            case OnnxDataType.Int16: return OrtValue.CreateTensorValueFromMemory(tensor.As<short>(), shape);
            case OnnxDataType.Int8: return OrtValue.CreateTensorValueFromMemory(tensor.As<sbyte>(), shape);
            case OnnxDataType.UInt8: return OrtValue.CreateTensorValueFromMemory(tensor.As<byte>(), shape);
            case OnnxDataType.UInt16: return OrtValue.CreateTensorValueFromMemory(tensor.As<ushort>(), shape);
            case OnnxDataType.UInt32: return OrtValue.CreateTensorValueFromMemory(tensor.As<uint>(), shape);
            case OnnxDataType.UInt64: return OrtValue.CreateTensorValueFromMemory(tensor.As<ulong>(), shape);
            case OnnxDataType.Bool: return OrtValue.CreateTensorValueFromMemory(tensor.As<bool>(), shape);
            default: throw new NotSupportedException($"{tensor}: no OrtValue conversion.");
        }
    }

    /// <summary>Copies an output tensor into a <see cref="TestTensor"/> of the same element type.</summary>
    public static TestTensor ToTestTensor(string name, OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var dims = info.Shape;
        return (int)info.ElementDataType switch
        {
            (int)OnnxDataType.Float => new TestTensor(name, OnnxDataType.Float, dims, value.GetTensorDataAsSpan<float>().ToArray()),
            (int)OnnxDataType.Double => new TestTensor(name, OnnxDataType.Double, dims, value.GetTensorDataAsSpan<double>().ToArray()),
            (int)OnnxDataType.Int64 => new TestTensor(name, OnnxDataType.Int64, dims, value.GetTensorDataAsSpan<long>().ToArray()),
            (int)OnnxDataType.Int32 => new TestTensor(name, OnnxDataType.Int32, dims, value.GetTensorDataAsSpan<int>().ToArray()),
            (int)OnnxDataType.UInt8 => new TestTensor(name, OnnxDataType.UInt8, dims, value.GetTensorDataAsSpan<byte>().ToArray()),
            (int)OnnxDataType.Bool => new TestTensor(name, OnnxDataType.Bool, dims, value.GetTensorDataAsSpan<bool>().ToArray()),
            (int)OnnxDataType.String => new TestTensor(name, OnnxDataType.String, dims, value.GetStringTensorAsArray()),
            _ => throw new NotSupportedException($"Output '{name}': element type {info.ElementDataType} has no conversion."),
        };
    }

    /// <summary>Runs <paramref name="session"/> on named tensors and returns every output by name.</summary>
    public static Dictionary<string, TestTensor> Run(InferenceSession session, IEnumerable<TestTensor> inputs)
    {
        var values = inputs.Select(t => (t.Name, Value: ToOrtValue(t))).ToList();
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, values.ToDictionary(v => v.Name, v => v.Value), session.OutputNames);
            return session.OutputNames.Zip(outputs).ToDictionary(p => p.First, p => ToTestTensor(p.First, p.Second));
        }
        finally
        {
            foreach (var (_, value) in values)
            {
                value.Dispose();
            }
        }
    }
}
