using System.Diagnostics.CodeAnalysis;

namespace ModelInService.TestUtilities;

/// <summary>Element types, numbered exactly like ONNX <c>TensorProto.DataType</c>.</summary>
[SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The names mirror ONNX's DataType enum.")]
public enum OnnxDataType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    Complex64 = 14,
    Complex128 = 15,
    BFloat16 = 16,
    Float8E4M3FN = 17,
    Float8E4M3FNUZ = 18,
    Float8E5M2 = 19,
    Float8E5M2FNUZ = 20,
    UInt4 = 21,
    Int4 = 22,
    Float4E2M1 = 23,
}

/// <summary>Helpers for <see cref="OnnxDataType"/>.</summary>
public static class OnnxDataTypes
{
    /// <summary>
    /// The array element type <see cref="TestTensor.Data"/> uses for <paramref name="type"/>, or null for types the
    /// readers do not decode (complex, bfloat16, float8, int4).
    /// </summary>
    public static Type? ClrType(OnnxDataType type) => type switch
    {
        OnnxDataType.Float => typeof(float),
        OnnxDataType.Double => typeof(double),
        OnnxDataType.Float16 => typeof(Half),
        OnnxDataType.Int8 => typeof(sbyte),
        OnnxDataType.Int16 => typeof(short),
        OnnxDataType.Int32 => typeof(int),
        OnnxDataType.Int64 => typeof(long),
        OnnxDataType.UInt8 => typeof(byte),
        OnnxDataType.UInt16 => typeof(ushort),
        OnnxDataType.UInt32 => typeof(uint),
        OnnxDataType.UInt64 => typeof(ulong),
        OnnxDataType.Bool => typeof(bool),
        OnnxDataType.String => typeof(string),
        _ => null,
    };

    /// <summary>Bytes per element in little-endian raw data (0 for strings and undecoded types).</summary>
    public static int ElementSize(OnnxDataType type) => type switch
    {
        OnnxDataType.Float or OnnxDataType.Int32 or OnnxDataType.UInt32 => 4,
        OnnxDataType.Double or OnnxDataType.Int64 or OnnxDataType.UInt64 => 8,
        OnnxDataType.Float16 or OnnxDataType.Int16 or OnnxDataType.UInt16 => 2,
        OnnxDataType.Int8 or OnnxDataType.UInt8 or OnnxDataType.Bool => 1,
        _ => 0,
    };

    /// <summary>Short lower-case name as ONNX tools print it: float32, int64, string, ...</summary>
    public static string ShortName(OnnxDataType type) => type switch
    {
        OnnxDataType.Float => "float32",
        OnnxDataType.Double => "float64",
        OnnxDataType.Float16 => "float16",
        OnnxDataType.BFloat16 => "bfloat16",
        OnnxDataType.Bool => "bool",
        OnnxDataType.String => "string",
        _ => type.ToString().ToLowerInvariant(),
    };
}
