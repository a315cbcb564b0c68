namespace ModelInService;

/// <summary>Conversions between our element types and CLR types, and their names in messages (the ONNX Runtime mapping is <c>OrtElementTypes</c> in the core).</summary>
internal static class ModelElementTypes
{
    public static Type? ClrType(ModelElementType type) => type switch
    {
        ModelElementType.Float32 => typeof(float),
        ModelElementType.Float64 => typeof(double),
        ModelElementType.Float16 => typeof(Half),
        ModelElementType.Int8 => typeof(sbyte),
        ModelElementType.Int16 => typeof(short),
        ModelElementType.Int32 => typeof(int),
        ModelElementType.Int64 => typeof(long),
        ModelElementType.UInt8 => typeof(byte),
        ModelElementType.UInt16 => typeof(ushort),
        ModelElementType.UInt32 => typeof(uint),
        ModelElementType.UInt64 => typeof(ulong),
        ModelElementType.Bool => typeof(bool),
        ModelElementType.String => typeof(string),
        _ => null,
    };

    public static ModelElementType FromClr(Type type)
    {
        if (type == typeof(float)) { return ModelElementType.Float32; }
        if (type == typeof(double)) { return ModelElementType.Float64; }
        if (type == typeof(Half)) { return ModelElementType.Float16; }
        if (type == typeof(sbyte)) { return ModelElementType.Int8; }
        if (type == typeof(short)) { return ModelElementType.Int16; }
        if (type == typeof(int)) { return ModelElementType.Int32; }
        if (type == typeof(long)) { return ModelElementType.Int64; }
        if (type == typeof(byte)) { return ModelElementType.UInt8; }
        if (type == typeof(ushort)) { return ModelElementType.UInt16; }
        if (type == typeof(uint)) { return ModelElementType.UInt32; }
        if (type == typeof(ulong)) { return ModelElementType.UInt64; }
        if (type == typeof(bool)) { return ModelElementType.Bool; }
        if (type == typeof(string)) { return ModelElementType.String; }
        return ModelElementType.Unknown;
    }

    public static string Describe(ModelElementType type) => type switch
    {
        ModelElementType.Float32 => "float32",
        ModelElementType.Float64 => "float64",
        ModelElementType.Float16 => "float16",
        ModelElementType.Int8 => "int8",
        ModelElementType.Int16 => "int16",
        ModelElementType.Int32 => "int32",
        ModelElementType.Int64 => "int64",
        ModelElementType.UInt8 => "uint8",
        ModelElementType.UInt16 => "uint16",
        ModelElementType.UInt32 => "uint32",
        ModelElementType.UInt64 => "uint64",
        ModelElementType.Bool => "bool",
        ModelElementType.String => "string",
        _ => "unknown",
    };

    /// <summary>C# spelling of a CLR type for messages: <c>float[]</c>, <c>ReadOnlyMemory&lt;float&gt;</c>, <c>List&lt;int&gt;</c>.</summary>
    public static string CSharpName(Type type)
    {
        if (type.IsByRef)
        {
            return "ref " + CSharpName(type.GetElementType()!); // A ref-returning property's type is Single[]&.
        }

        if (type.IsPointer)
        {
            return CSharpName(type.GetElementType()!) + "*";
        }

        if (type.IsArray)
        {
            return CSharpName(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        }

        if (type == typeof(float)) { return "float"; }
        if (type == typeof(double)) { return "double"; }
        if (type == typeof(int)) { return "int"; }
        if (type == typeof(long)) { return "long"; }
        if (type == typeof(byte)) { return "byte"; }
        if (type == typeof(sbyte)) { return "sbyte"; }
        if (type == typeof(short)) { return "short"; }
        if (type == typeof(ushort)) { return "ushort"; }
        if (type == typeof(uint)) { return "uint"; }
        if (type == typeof(ulong)) { return "ulong"; }
        if (type == typeof(bool)) { return "bool"; }
        if (type == typeof(string)) { return "string"; }
        if (type == typeof(decimal)) { return "decimal"; }
        if (type.IsGenericType)
        {
            var name = type.Name;
            var tick = name.IndexOf('`', StringComparison.Ordinal);
            if (tick > 0)
            {
                name = name[..tick];
            }

            return name + "<" + string.Join(", ", type.GetGenericArguments().Select(CSharpName)) + ">";
        }

        return type.Name;
    }
}
