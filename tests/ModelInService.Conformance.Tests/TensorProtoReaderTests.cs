using Google.Protobuf;
using ModelInService.TestUtilities;
using Onnx;
using Xunit;

namespace ModelInService.Conformance.Tests;

public sealed class TensorProtoReaderTests
{
    [Fact]
    public void Reads_typed_fields_for_every_supported_type()
    {
        AssertTyped(OnnxDataType.Float, p => p.FloatData.AddRange([1.5f, -2f]), new[] { 1.5f, -2f });
        AssertTyped(OnnxDataType.Double, p => p.DoubleData.AddRange([0.25, 1e300]), new[] { 0.25, 1e300 });
        AssertTyped(OnnxDataType.Int32, p => p.Int32Data.AddRange([int.MinValue, 5]), new[] { int.MinValue, 5 });
        AssertTyped(OnnxDataType.Int16, p => p.Int32Data.AddRange([-300, 300]), new short[] { -300, 300 });
        AssertTyped(OnnxDataType.Int8, p => p.Int32Data.AddRange([-128, 127]), new sbyte[] { -128, 127 });
        AssertTyped(OnnxDataType.UInt16, p => p.Int32Data.AddRange([0, 65535]), new ushort[] { 0, 65535 });
        AssertTyped(OnnxDataType.UInt8, p => p.Int32Data.AddRange([0, 255]), new byte[] { 0, 255 });
        AssertTyped(OnnxDataType.Bool, p => p.Int32Data.AddRange([1, 0]), new[] { true, false });
        AssertTyped(OnnxDataType.Float16, p => p.Int32Data.AddRange([0x3C00, 0xC000]), new[] { (Half)1f, (Half)(-2f) });
        AssertTyped(OnnxDataType.Int64, p => p.Int64Data.AddRange([long.MinValue, 9]), new[] { long.MinValue, 9L });
        AssertTyped(OnnxDataType.UInt64, p => p.Uint64Data.AddRange([ulong.MaxValue, 1]), new[] { ulong.MaxValue, 1UL });
        AssertTyped(OnnxDataType.UInt32, p => p.Uint64Data.AddRange([uint.MaxValue, 1]), new[] { uint.MaxValue, 1U });
        AssertTyped(OnnxDataType.String, p => p.StringData.AddRange([ByteString.CopyFromUtf8("ä"), ByteString.CopyFromUtf8("")]), new[] { "ä", "" });
    }

    [Fact]
    public void Round_trips_raw_data_for_every_supported_type()
    {
        TestTensor[] tensors =
        [
            new("f", OnnxDataType.Float, [2, 2], new[] { 1f, 2f, 3f, -0f }),
            new("d", OnnxDataType.Double, [1], new[] { Math.PI }),
            new("h", OnnxDataType.Float16, [2], new[] { (Half)0.5f, Half.MaxValue }),
            new("i8", OnnxDataType.Int8, [2], new sbyte[] { -1, 1 }),
            new("i16", OnnxDataType.Int16, [2], new short[] { -1, 1 }),
            new("i32", OnnxDataType.Int32, [2], new[] { -1, 1 }),
            new("i64", OnnxDataType.Int64, [2, 1], new[] { -1L, 1L }),
            new("u8", OnnxDataType.UInt8, [3], new byte[] { 0, 128, 255 }),
            new("u16", OnnxDataType.UInt16, [1], new ushort[] { 65535 }),
            new("u32", OnnxDataType.UInt32, [1], new[] { uint.MaxValue }),
            new("u64", OnnxDataType.UInt64, [1], new[] { ulong.MaxValue }),
            new("b", OnnxDataType.Bool, [3], new[] { true, false, true }),
            new("s", OnnxDataType.String, [2], new[] { "a", "✓" }),
            new("scalar", OnnxDataType.Float, [], new[] { 7f }),
            new("empty", OnnxDataType.Int64, [0, 3], Array.Empty<long>()),
        ];

        foreach (var tensor in tensors)
        {
            var back = TensorProtoReader.Parse(TensorProtoReader.Serialize(tensor));
            Assert.Equal(tensor.ToString(), back.ToString());
            Assert.Equal(tensor.Data, back.Data);
        }
    }

    [Fact]
    public void Refuses_inconsistent_and_unsupported_tensors()
    {
        var shortRaw = new TensorProto { DataType = (int)OnnxDataType.Float, RawData = ByteString.CopyFrom(new byte[6]) };
        shortRaw.Dims.Add(2);
        Assert.Throws<InvalidDataException>(() => TensorProtoReader.FromProto(shortRaw));

        var wrongCount = new TensorProto { DataType = (int)OnnxDataType.Float };
        wrongCount.Dims.Add(3);
        wrongCount.FloatData.Add(1f);
        Assert.Throws<ArgumentException>(() => TensorProtoReader.FromProto(wrongCount));

        var bfloat = new TensorProto { DataType = (int)OnnxDataType.BFloat16 };
        Assert.Throws<NotSupportedException>(() => TensorProtoReader.FromProto(bfloat));

        var external = new TensorProto { DataType = (int)OnnxDataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        Assert.Throws<NotSupportedException>(() => TensorProtoReader.FromProto(external));
    }

    private static void AssertTyped(OnnxDataType type, Action<TensorProto> fill, Array expected)
    {
        var proto = new TensorProto { Name = "t", DataType = (int)type };
        proto.Dims.Add(expected.Length);
        fill(proto);

        var tensor = TensorProtoReader.Parse(proto.ToByteArray());

        Assert.Equal(type, tensor.ElementType);
        Assert.Equal("t", tensor.Name);
        Assert.Equal(expected, tensor.Data);
    }
}
