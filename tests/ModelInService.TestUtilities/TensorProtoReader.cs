using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Onnx;

namespace ModelInService.TestUtilities;

/// <summary>
/// Reads serialized <c>onnx.TensorProto</c> messages (<c>.pb</c> files of the ONNX backend tests and model zoo) into
/// <see cref="TestTensor"/>: little-endian <c>raw_data</c> or the typed repeated fields (float_data; int32_data for
/// int8/int16/int32/uint8/uint16/bool/float16; int64_data; double_data; uint64_data for uint32/uint64; string_data as
/// UTF-8). External data and segmented tensors are refused.
/// </summary>
public static class TensorProtoReader
{
    /// <summary>Reads a <c>.pb</c> file.</summary>
    public static TestTensor Read(string path) => Parse(File.ReadAllBytes(path));

    /// <summary>Parses serialized TensorProto bytes.</summary>
    public static TestTensor Parse(byte[] bytes) => FromProto(TensorProto.Parser.ParseFrom(bytes));

    /// <summary>Converts a parsed TensorProto (e.g. a model initializer).</summary>
    public static TestTensor FromProto(TensorProto proto)
    {
        ArgumentNullException.ThrowIfNull(proto);
        var name = proto.Name ?? string.Empty;
        var type = (OnnxDataType)proto.DataType;
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new NotSupportedException($"TensorProto '{name}' keeps its data in an external file.");
        }

        if (proto.Segment is not null)
        {
            throw new NotSupportedException($"TensorProto '{name}' is a segment of a larger tensor.");
        }

        if (OnnxDataTypes.ClrType(type) is null)
        {
            throw new NotSupportedException($"TensorProto '{name}': data type {type} ({proto.DataType}) is not supported.");
        }

        var dims = proto.Dims.ToArray();
        var count = checked((int)TestTensor.ElementCountOf(dims));
        var data = proto.RawData.Length > 0 || (count > 0 && !HasTypedData(proto))
            ? FromRawData(proto, type, count)
            : FromTypedFields(proto, type);
        return new TestTensor(name, type, dims, data);
    }

    private static bool HasTypedData(TensorProto p) =>
        p.FloatData.Count + p.Int32Data.Count + p.Int64Data.Count + p.DoubleData.Count + p.Uint64Data.Count + p.StringData.Count > 0;

    private static Array FromRawData(TensorProto proto, OnnxDataType type, int count)
    {
        if (type == OnnxDataType.String)
        {
            throw new InvalidDataException($"TensorProto '{proto.Name}': string tensors cannot use raw_data.");
        }

        var raw = proto.RawData.Span;
        var expected = (long)count * OnnxDataTypes.ElementSize(type);
        if (raw.Length != expected)
        {
            throw new InvalidDataException(
                $"TensorProto '{proto.Name}': raw_data has {raw.Length} bytes, {type}[{string.Join(",", proto.Dims)}] needs {expected}.");
        }

        return type switch
        {
            OnnxDataType.Float => NpyReader.Cast<float>(raw),
            OnnxDataType.Double => NpyReader.Cast<double>(raw),
            OnnxDataType.Float16 => NpyReader.Cast<Half>(raw),
            OnnxDataType.Int8 => NpyReader.Cast<sbyte>(raw),
            OnnxDataType.Int16 => NpyReader.Cast<short>(raw),
            OnnxDataType.Int32 => NpyReader.Cast<int>(raw),
            OnnxDataType.Int64 => NpyReader.Cast<long>(raw),
            OnnxDataType.UInt8 => raw.ToArray(),
            OnnxDataType.UInt16 => NpyReader.Cast<ushort>(raw),
            OnnxDataType.UInt32 => NpyReader.Cast<uint>(raw),
            OnnxDataType.UInt64 => NpyReader.Cast<ulong>(raw),
            OnnxDataType.Bool => Array.ConvertAll(raw.ToArray(), b => b != 0),
            _ => throw new NotSupportedException($"TensorProto '{proto.Name}': {type} raw_data is not supported."),
        };
    }

    // Which typed field holds which type is fixed by onnx.proto; narrow types live in int32_data, one element each
    // (float16 as its 16 bits).
    private static Array FromTypedFields(TensorProto proto, OnnxDataType type) => type switch
    {
        OnnxDataType.Float => proto.FloatData.ToArray(),
        OnnxDataType.Double => proto.DoubleData.ToArray(),
        OnnxDataType.Int32 => proto.Int32Data.ToArray(),
        OnnxDataType.Int16 => proto.Int32Data.Select(v => checked((short)v)).ToArray(),
        OnnxDataType.Int8 => proto.Int32Data.Select(v => checked((sbyte)v)).ToArray(),
        OnnxDataType.UInt16 => proto.Int32Data.Select(v => checked((ushort)v)).ToArray(),
        OnnxDataType.UInt8 => proto.Int32Data.Select(v => checked((byte)v)).ToArray(),
        OnnxDataType.Bool => proto.Int32Data.Select(v => v != 0).ToArray(),
        OnnxDataType.Float16 => proto.Int32Data.Select(v => BitConverter.UInt16BitsToHalf(checked((ushort)v))).ToArray(),
        OnnxDataType.Int64 => proto.Int64Data.ToArray(),
        OnnxDataType.UInt64 => proto.Uint64Data.ToArray(),
        OnnxDataType.UInt32 => proto.Uint64Data.Select(v => checked((uint)v)).ToArray(),
        OnnxDataType.String => proto.StringData.Select(s => Encoding.UTF8.GetString(s.Span)).ToArray(),
        _ => throw new NotSupportedException($"TensorProto '{proto.Name}': {type} is not supported."),
    };

    /// <summary>Serializes a tensor as a TensorProto with raw_data (string_data for strings): the inverse of <see cref="Parse"/>.</summary>
    public static byte[] Serialize(TestTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var proto = new TensorProto { Name = tensor.Name, DataType = (int)tensor.ElementType };
        proto.Dims.AddRange(tensor.Dims);
        switch (tensor.Data)
        {
            case string[] strings:
                proto.StringData.AddRange(strings.Select(s => ByteString.CopyFromUtf8(s)));
                break;
            case bool[] bools:
                proto.RawData = ByteString.CopyFrom(Array.ConvertAll(bools, b => b ? (byte)1 : (byte)0));
                break;
            case Half[] halves:
                proto.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(halves.AsSpan()));
                break;
            default:
                var bytes = new byte[tensor.Data.Length * OnnxDataTypes.ElementSize(tensor.ElementType)];
                Buffer.BlockCopy(tensor.Data, 0, bytes, 0, bytes.Length);
                proto.RawData = ByteString.CopyFrom(bytes);
                break;
        }

        return proto.ToByteArray();
    }
}
