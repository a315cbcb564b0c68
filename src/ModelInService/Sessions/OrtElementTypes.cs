using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelInService;

/// <summary>Maps <see cref="ModelElementType"/> to and from ONNX Runtime's element types (the rest of the mapping, which needs no ONNX Runtime, is <c>ModelElementTypes</c> in ModelInService.Abstractions).</summary>
internal static class OrtElementTypes
{
    public static ModelElementType FromOrt(TensorElementType type) => type switch
    {
        TensorElementType.Float => ModelElementType.Float32,
        TensorElementType.Double => ModelElementType.Float64,
        TensorElementType.Float16 => ModelElementType.Float16,
        TensorElementType.Int8 => ModelElementType.Int8,
        TensorElementType.Int16 => ModelElementType.Int16,
        TensorElementType.Int32 => ModelElementType.Int32,
        TensorElementType.Int64 => ModelElementType.Int64,
        TensorElementType.UInt8 => ModelElementType.UInt8,
        TensorElementType.UInt16 => ModelElementType.UInt16,
        TensorElementType.UInt32 => ModelElementType.UInt32,
        TensorElementType.UInt64 => ModelElementType.UInt64,
        TensorElementType.Bool => ModelElementType.Bool,
        TensorElementType.String => ModelElementType.String,
        _ => ModelElementType.Unknown,
    };

    public static TensorElementType ToOrt(ModelElementType type) => type switch
    {
        ModelElementType.Float32 => TensorElementType.Float,
        ModelElementType.Float64 => TensorElementType.Double,
        ModelElementType.Float16 => TensorElementType.Float16,
        ModelElementType.Int8 => TensorElementType.Int8,
        ModelElementType.Int16 => TensorElementType.Int16,
        ModelElementType.Int32 => TensorElementType.Int32,
        ModelElementType.Int64 => TensorElementType.Int64,
        ModelElementType.UInt8 => TensorElementType.UInt8,
        ModelElementType.UInt16 => TensorElementType.UInt16,
        ModelElementType.UInt32 => TensorElementType.UInt32,
        ModelElementType.UInt64 => TensorElementType.UInt64,
        ModelElementType.Bool => TensorElementType.Bool,
        ModelElementType.String => TensorElementType.String,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "No ONNX Runtime element type."),
    };

    /// <summary>
    /// ONNX's own name of an element type (<c>bfloat16</c>, <c>float8e4m3fn</c>, <c>int4</c>, <c>complex64</c>...), for the
    /// types the library cannot carry and would otherwise only call "unknown".
    /// </summary>
    public static string OnnxName(TensorElementType type) => (int)type switch
    {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        17 => "float8e4m3fn",
        18 => "float8e4m3fnuz",
        19 => "float8e5m2",
        20 => "float8e5m2fnuz",
        21 => "uint4",
        22 => "int4",
        23 => "float4e2m1",
        _ => "element type " + ((int)type).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
