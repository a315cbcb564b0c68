using System.Text;

namespace ModelInService.Tool;

/// <summary>One operator set the model imports: its domain (empty for the default <c>ai.onnx</c>) and version.</summary>
/// <param name="Domain">The domain, <c>ai.onnx</c> when the file leaves it empty.</param>
/// <param name="Version">The opset version.</param>
internal sealed record OpsetImport(string Domain, long Version);

/// <summary>
/// The top-level fields of an ONNX <c>ModelProto</c> that ONNX Runtime's metadata does not expose (IR version, producer
/// version, opset imports), read by scanning the file's top-level protobuf fields and skipping the graph.
/// </summary>
internal sealed record OnnxHeader(long IrVersion, string ProducerName, string ProducerVersion, string Domain, long ModelVersion, IReadOnlyList<OpsetImport> Opsets)
{
    private const int IrVersionField = 1;
    private const int ProducerNameField = 2;
    private const int ProducerVersionField = 3;
    private const int DomainField = 4;
    private const int ModelVersionField = 5;
    private const int OpsetImportField = 8;

    /// <summary>Reads the header of the model file at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a protobuf message.</exception>
    public static OnnxHeader Read(string path)
    {
        try
        {
            return ReadFile(path);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path} is not a complete ONNX model (truncated or not a model file): {e.Message}", e);
        }
    }

    private static OnnxHeader ReadFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (!stream.CanSeek)
        {
            throw new InvalidDataException($"{path} is not a regular file (a pipe?): ONNX Runtime reads the model again after this header; pass the model file's path.");
        }
        long irVersion = 0, modelVersion = 0;
        string producer = "", producerVersion = "", domain = "";
        var opsets = new List<OpsetImport>();
        while (stream.Position < stream.Length)
        {
            var tag = ReadVarint(stream);
            var field = (int)(tag >> 3);
            var wire = (int)(tag & 7);
            switch (wire)
            {
                case 0:
                    var value = (long)ReadVarint(stream);
                    if (field == IrVersionField)
                    {
                        irVersion = value;
                    }
                    else if (field == ModelVersionField)
                    {
                        modelVersion = value;
                    }

                    break;
                case 1:
                    Skip(stream, 8);
                    break;
                case 5:
                    Skip(stream, 4);
                    break;
                case 2:
                    var length = ReadLength(stream);
                    if (field is ProducerNameField or ProducerVersionField or DomainField or OpsetImportField)
                    {
                        var bytes = ReadBytes(stream, length);
                        switch (field)
                        {
                            case ProducerNameField: producer = Encoding.UTF8.GetString(bytes); break;
                            case ProducerVersionField: producerVersion = Encoding.UTF8.GetString(bytes); break;
                            case DomainField: domain = Encoding.UTF8.GetString(bytes); break;
                            default: opsets.Add(ReadOpset(bytes)); break;
                        }
                    }
                    else
                    {
                        Skip(stream, length);
                    }

                    break;
                default:
                    throw new InvalidDataException($"{path} is not an ONNX model: protobuf wire type {wire} at byte {stream.Position}.");
            }
        }

        return new OnnxHeader(irVersion, producer, producerVersion, domain, modelVersion, opsets);
    }

    private static OpsetImport ReadOpset(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        var domain = "";
        long version = 0;
        while (stream.Position < stream.Length)
        {
            var tag = ReadVarint(stream);
            var field = (int)(tag >> 3);
            var wire = (int)(tag & 7);
            if (wire == 2)
            {
                var data = ReadBytes(stream, ReadLength(stream));
                if (field == 1)
                {
                    domain = Encoding.UTF8.GetString(data);
                }
            }
            else if (wire == 0)
            {
                var value = (long)ReadVarint(stream);
                if (field == 2)
                {
                    version = value;
                }
            }
            else
            {
                Skip(stream, wire == 1 ? 8 : 4);
            }
        }

        return new OpsetImport(domain.Length == 0 ? "ai.onnx" : domain, version);
    }

    private static ulong ReadVarint(Stream stream)
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = stream.ReadByte();
            if (b < 0)
            {
                throw new InvalidDataException("The file ends inside a protobuf varint.");
            }

            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new InvalidDataException("A protobuf varint is longer than 10 bytes.");
    }

    /// <summary>A length-delimited field's length; one of 2^63 bytes or more is no file's.</summary>
    private static long ReadLength(Stream stream)
    {
        var length = ReadVarint(stream);
        return length > long.MaxValue
            ? throw new InvalidDataException($"A protobuf field claims {length} bytes at byte {stream.Position}.")
            : (long)length;
    }

    private static byte[] ReadBytes(Stream stream, long length)
    {
        if (length < 0 || length > stream.Length - stream.Position)
        {
            throw new InvalidDataException($"A protobuf field of {length} bytes runs past the end of the file.");
        }

        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static void Skip(Stream stream, long length)
    {
        if (length < 0 || length > stream.Length - stream.Position)
        {
            throw new InvalidDataException($"A protobuf field of {length} bytes runs past the end of the file.");
        }

        stream.Seek(length, SeekOrigin.Current);
    }
}
