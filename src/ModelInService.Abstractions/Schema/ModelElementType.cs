namespace ModelInService;

#pragma warning disable CA1720 // The members are ONNX's own element type names (float32, int64, string...).

/// <summary>The element type of a model tensor, as ONNX names it.</summary>
public enum ModelElementType
{
    /// <summary>An element type this library cannot bind (for example complex numbers).</summary>
    Unknown = 0,
    /// <summary>32-bit IEEE float (<see cref="float"/>).</summary>
    Float32,
    /// <summary>64-bit IEEE float (<see cref="double"/>).</summary>
    Float64,
    /// <summary>16-bit IEEE float (<see cref="Half"/>).</summary>
    Float16,
    /// <summary>Signed 8-bit integer (<see cref="sbyte"/>).</summary>
    Int8,
    /// <summary>Signed 16-bit integer (<see cref="short"/>).</summary>
    Int16,
    /// <summary>Signed 32-bit integer (<see cref="int"/>).</summary>
    Int32,
    /// <summary>Signed 64-bit integer (<see cref="long"/>).</summary>
    Int64,
    /// <summary>Unsigned 8-bit integer (<see cref="byte"/>).</summary>
    UInt8,
    /// <summary>Unsigned 16-bit integer (<see cref="ushort"/>).</summary>
    UInt16,
    /// <summary>Unsigned 32-bit integer (<see cref="uint"/>).</summary>
    UInt32,
    /// <summary>Unsigned 64-bit integer (<see cref="ulong"/>).</summary>
    UInt64,
    /// <summary>Boolean (<see cref="bool"/>).</summary>
    Bool,
    /// <summary>UTF-8 string (<see cref="string"/>).</summary>
    String,
}

#pragma warning restore CA1720

/// <summary>What kind of value a model input or output carries.</summary>
public enum ModelValueKind
{
    /// <summary>A dense tensor.</summary>
    Tensor,
    /// <summary>A sequence of maps, as emitted by sklearn-onnx's ZipMap (<c>seq(map(int64|string, float))</c>).</summary>
    SequenceOfMaps,
    /// <summary>Any other non-tensor value (sequences of tensors, maps, optionals, sparse tensors).</summary>
    Other,
}
