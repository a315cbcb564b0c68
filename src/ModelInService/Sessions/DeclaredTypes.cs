namespace ModelInService.Sessions;

/// <summary>
/// Reads what a model file declares about its graph inputs and outputs, where ONNX Runtime's C# metadata cannot say it.
/// Scalars: finds the graph inputs a model declares as scalars (a shape with no dimensions), which ONNX Runtime's metadata
/// cannot tell from inputs whose shape is not declared at all: both report no dimensions. Without this, an input such
/// as Silero VAD's <c>sr</c> accepted a tensor of any rank in <see cref="IModelRunner"/>, and ONNX Runtime's own
/// rank check then failed the run as a model error (<see cref="ModelInferenceException"/>) instead of a caller's
/// input error (<see cref="ModelInputException"/>). Element types: names the inputs and outputs whose element type
/// ONNX Runtime's C# API cannot describe (float8, int4), whose sessions fail with "Unregistered TensorElementType".
/// </summary>
/// <remarks>
/// Reads the protobuf wire format: <c>ModelProto.graph</c> (7) → <c>GraphProto.input</c> (11) →
/// <c>ValueInfoProto</c> name (1) and type (2) → <c>TypeProto.tensor_type</c> (1) → <c>shape</c> (2) with its
/// <c>dim</c> entries (1). Every other field, initializers included, is skipped by its length (a seek on a file), so
/// the cost does not grow with the weights.
/// </remarks>
internal static class DeclaredTypes
{
    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLength = 2;
    private const int WireFixed32 = 5;

    /// <summary>The signature with its declared-scalar inputs marked, or the same signature when there are none or the file cannot be read.</summary>
    public static ModelSignature Mark(ModelSignature signature, string? path, byte[]? bytes)
    {
        var candidates = false;
        foreach (var input in signature.Inputs)
        {
            candidates |= input.Kind == ModelValueKind.Tensor && input.Dimensions.Count == 0;
        }

        if (!candidates)
        {
            return signature;
        }

        HashSet<string> scalars;
        try
        {
            using Stream stream = bytes is not null ? new MemoryStream(bytes, writable: false) : File.OpenRead(path!);
            scalars = Find(stream);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return signature; // ONNX Runtime read the model; a file this reader cannot follow keeps the lenient check.
        }

        if (scalars.Count == 0)
        {
            return signature;
        }

        var inputs = new List<TensorSpec>(signature.Inputs.Count);
        foreach (var input in signature.Inputs)
        {
            inputs.Add(input.Kind == ModelValueKind.Tensor && input.Dimensions.Count == 0 && scalars.Contains(input.Name)
                ? input.AsDeclaredScalar()
                : input);
        }

        return new ModelSignature(inputs, signature.Outputs, signature.Metadata, signature.ProducerName, signature.Version);
    }

    /// <summary>One graph input or output as the file declares it.</summary>
    /// <param name="Name">The value's name.</param>
    /// <param name="IsInput">True for a graph input, false for an output.</param>
    /// <param name="ElementType">The tensor's ONNX element type number (0 when not a tensor or not declared).</param>
    /// <param name="IsScalar">True when the tensor's shape is declared with no dimensions.</param>
    internal readonly record struct Declared(string Name, bool IsInput, int ElementType, bool IsScalar);

    /// <summary>The names of the graph inputs whose tensor type has a shape with no dimensions.</summary>
    internal static HashSet<string> Find(Stream stream)
    {
        var scalars = new HashSet<string>(StringComparer.Ordinal);
        foreach (var value in Read(stream))
        {
            if (value.IsInput && value.IsScalar)
            {
                scalars.Add(value.Name);
            }
        }

        return scalars;
    }

    /// <summary>
    /// Names the graph inputs and outputs whose element type ONNX Runtime's C# API (and so the library) cannot carry,
    /// e.g. "input 'x' is float8e4m3fn", for a load error; null when there are none or the file cannot be read.
    /// </summary>
    internal static string? DescribeUnsupported(string? path, byte[]? bytes)
    {
        try
        {
            using Stream stream = bytes is not null ? new MemoryStream(bytes, writable: false) : File.OpenRead(path!);
            var found = new List<string>();
            foreach (var value in Read(stream))
            {
                // 1-13 are the types ONNX Runtime's C# API describes (complex64/128 it refuses itself with its own message).
                if (value.ElementType > 16 && found.Count < 8)
                {
                    found.Add($"{(value.IsInput ? "input" : "output")} '{value.Name}' is {OrtElementTypes.OnnxName((Microsoft.ML.OnnxRuntime.Tensors.TensorElementType)value.ElementType)}");
                }
            }

            return found.Count == 0 ? null : string.Join(", ", found);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>The graph's inputs (field 11) and outputs (field 12) with their declared tensor element types and scalar shapes.</summary>
    internal static List<Declared> Read(Stream stream)
    {
        var values = new List<Declared>();
        var end = stream.Length;
        while (stream.Position < end)
        {
            var (field, wire) = ReadTag(stream);
            if (field == 7 && wire == WireLength)
            {
                var graphEnd = Checked(stream, ReadLength(stream), end);
                while (stream.Position < graphEnd)
                {
                    var (graphField, graphWire) = ReadTag(stream);
                    if (graphField is 11 or 12 && graphWire == WireLength)
                    {
                        var valueEnd = Checked(stream, ReadLength(stream), graphEnd);
                        if (ReadValueInfo(stream, valueEnd) is { } value && values.Count < 100_000)
                        {
                            values.Add(value with { IsInput = graphField == 11 });
                        }

                        stream.Position = valueEnd;
                    }
                    else
                    {
                        Skip(stream, graphWire, graphEnd);
                    }
                }

                return values;
            }

            Skip(stream, wire, end);
        }

        return values;
    }

    /// <summary>The value's name with its tensor element type and whether its shape is a declared scalar; null without a name.</summary>
    private static Declared? ReadValueInfo(Stream stream, long end)
    {
        string? name = null;
        var (elementType, scalar) = (0, false);
        while (stream.Position < end)
        {
            var (field, wire) = ReadTag(stream);
            if (field == 1 && wire == WireLength)
            {
                var length = ReadLength(stream);
                var nameEnd = Checked(stream, length, end);
                if (length > 65536)
                {
                    stream.Position = nameEnd; // No input has such a name; do not allocate what a hostile file asks for.
                    continue;
                }

                var buffer = new byte[length];
                stream.ReadExactly(buffer);
                name = System.Text.Encoding.UTF8.GetString(buffer);
            }
            else if (field == 2 && wire == WireLength)
            {
                var typeEnd = Checked(stream, ReadLength(stream), end);
                (elementType, scalar) = ReadTensorType(stream, typeEnd);
                stream.Position = typeEnd;
            }
            else
            {
                Skip(stream, wire, end);
            }
        }

        return name is null ? null : new Declared(name, false, elementType, scalar);
    }

    /// <summary>A <c>TypeProto</c>'s tensor element type (0 for other types) and whether its shape is present with no dimensions.</summary>
    private static (int ElementType, bool IsScalar) ReadTensorType(Stream stream, long end)
    {
        while (stream.Position < end)
        {
            var (field, wire) = ReadTag(stream);
            if (field == 1 && wire == WireLength)
            {
                var tensorEnd = Checked(stream, ReadLength(stream), end);
                var shapePresent = false;
                var dims = 0;
                var elementType = 0;
                while (stream.Position < tensorEnd)
                {
                    var (tensorField, tensorWire) = ReadTag(stream);
                    if (tensorField == 1 && tensorWire == WireVarint)
                    {
                        var type = ReadVarint(stream);
                        elementType = type > 1000 ? 0 : (int)type;
                    }
                    else if (tensorField == 2 && tensorWire == WireLength)
                    {
                        shapePresent = true;
                        var shapeEnd = Checked(stream, ReadLength(stream), tensorEnd);
                        while (stream.Position < shapeEnd)
                        {
                            var (shapeField, shapeWire) = ReadTag(stream);
                            dims += shapeField == 1 ? 1 : 0;
                            Skip(stream, shapeWire, shapeEnd);
                        }
                    }
                    else
                    {
                        Skip(stream, tensorWire, tensorEnd);
                    }
                }

                return (elementType, shapePresent && dims == 0);
            }

            Skip(stream, wire, end);
        }

        return (0, false);
    }

    private static (int Field, int Wire) ReadTag(Stream stream)
    {
        var tag = ReadVarint(stream);
        var field = tag >> 3;
        return field is 0 or > int.MaxValue ? throw new InvalidDataException("Field number 0 or out of range.") : ((int)field, (int)(tag & 7));
    }

    private static ulong ReadVarint(Stream stream)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = stream.ReadByte();
            if (b < 0)
            {
                throw new InvalidDataException("The file ends inside a varint.");
            }

            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("A varint longer than 10 bytes.");
    }

    private static long ReadLength(Stream stream)
    {
        var length = ReadVarint(stream);
        return length > long.MaxValue ? throw new InvalidDataException("A length beyond the file.") : (long)length;
    }

    /// <summary>The end of a field of <paramref name="length"/> bytes that starts here, checked against its parent's end.</summary>
    private static long Checked(Stream stream, long length, long parentEnd)
    {
        var end = stream.Position + length;
        return length < 0 || end > parentEnd || end < stream.Position ? throw new InvalidDataException("A length beyond its message.") : end;
    }

    private static void Skip(Stream stream, int wire, long parentEnd)
    {
        switch (wire)
        {
            case WireVarint:
                ReadVarint(stream);
                break;
            case WireFixed64:
                stream.Position = Checked(stream, 8, parentEnd);
                break;
            case WireLength:
                stream.Position = Checked(stream, ReadLength(stream), parentEnd);
                break;
            case WireFixed32:
                stream.Position = Checked(stream, 4, parentEnd);
                break;
            default:
                throw new InvalidDataException($"Wire type {wire} is not one this reader follows.");
        }

        if (stream.Position > parentEnd)
        {
            throw new InvalidDataException("A field beyond its message.");
        }
    }
}
