namespace ModelInService.Sessions;

/// <summary>
/// Finds the graph inputs a model declares as scalars (a shape with no dimensions), which ONNX Runtime's metadata
/// cannot tell from inputs whose shape is not declared at all: both report no dimensions. Without this, an input such
/// as Silero VAD's <c>sr</c> accepted a tensor of any rank in <see cref="IModelRunner"/>, and ONNX Runtime's own
/// rank check then failed the run as a model error (<see cref="ModelInferenceException"/>) instead of a caller's
/// input error (<see cref="ModelInputException"/>).
/// </summary>
/// <remarks>
/// Reads the protobuf wire format: <c>ModelProto.graph</c> (7) → <c>GraphProto.input</c> (11) →
/// <c>ValueInfoProto</c> name (1) and type (2) → <c>TypeProto.tensor_type</c> (1) → <c>shape</c> (2) with its
/// <c>dim</c> entries (1). Every other field, initializers included, is skipped by its length (a seek on a file), so
/// the cost does not grow with the weights.
/// </remarks>
internal static class DeclaredScalars
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

    /// <summary>The names of the graph inputs whose tensor type has a shape with no dimensions.</summary>
    internal static HashSet<string> Find(Stream stream)
    {
        var scalars = new HashSet<string>(StringComparer.Ordinal);
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
                    if (graphField == 11 && graphWire == WireLength)
                    {
                        var valueEnd = Checked(stream, ReadLength(stream), graphEnd);
                        if (ReadValueInfo(stream, valueEnd) is { } name)
                        {
                            scalars.Add(name);
                        }

                        stream.Position = valueEnd;
                    }
                    else
                    {
                        Skip(stream, graphWire, graphEnd);
                    }
                }

                return scalars;
            }

            Skip(stream, wire, end);
        }

        return scalars;
    }

    /// <summary>The value's name when its type is a tensor with a shape of no dimensions; otherwise null.</summary>
    private static string? ReadValueInfo(Stream stream, long end)
    {
        string? name = null;
        var scalar = false;
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
                scalar = ReadTensorTypeIsScalar(stream, typeEnd);
                stream.Position = typeEnd;
            }
            else
            {
                Skip(stream, wire, end);
            }
        }

        return scalar ? name : null;
    }

    /// <summary>Whether a <c>TypeProto</c> is a tensor type whose shape is present and has no dimensions.</summary>
    private static bool ReadTensorTypeIsScalar(Stream stream, long end)
    {
        while (stream.Position < end)
        {
            var (field, wire) = ReadTag(stream);
            if (field == 1 && wire == WireLength)
            {
                var tensorEnd = Checked(stream, ReadLength(stream), end);
                var shapePresent = false;
                var dims = 0;
                while (stream.Position < tensorEnd)
                {
                    var (tensorField, tensorWire) = ReadTag(stream);
                    if (tensorField == 2 && tensorWire == WireLength)
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

                return shapePresent && dims == 0;
            }

            Skip(stream, wire, end);
        }

        return false;
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
