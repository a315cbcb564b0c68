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
}
