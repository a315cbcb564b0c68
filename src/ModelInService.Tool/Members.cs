using System.Globalization;

namespace ModelInService.Tool;

/// <summary>The C# shape of a member bound to one input or output.</summary>
internal enum MemberShape
{
    /// <summary>One value: a row of one element.</summary>
    Scalar,

    /// <summary>A row flattened row-major into an array.</summary>
    Array,

    /// <summary>A row with several free dimensions as a rectangular array (<c>T[,]</c>, <c>T[,,]</c>...), one rank per row dimension.</summary>
    Rectangular,

    /// <summary>A ZipMap output: one map per row.</summary>
    Dictionary,

    /// <summary>A value no C# member can bind (non-tensor input, unknown element type): no member is written.</summary>
    Unsupported,
}

/// <summary>The C# member written for one input or output.</summary>
/// <param name="Tensor">The tensor and how it batches.</param>
/// <param name="Name">The member's C# name.</param>
/// <param name="Shape">Scalar, array, rectangular array, dictionary or unsupported.</param>
/// <param name="ElementType">The C# element type (<c>float</c>, <c>long</c>, <c>string</c>...); for dictionaries the value type.</param>
/// <param name="KeyType">The dictionary key type, else null.</param>
internal sealed record MemberPlan(TensorBatching Tensor, string Name, MemberShape Shape, string ElementType, string? KeyType)
{
    /// <summary>The member's C# type.</summary>
    public string TypeName => Shape switch
    {
        MemberShape.Scalar => ElementType,
        MemberShape.Array => ElementType + "[]",
        MemberShape.Rectangular => ElementType + "[" + new string(',', Rank - 1) + "]",
        MemberShape.Dictionary => $"IReadOnlyDictionary<{KeyType}, {ElementType}>",
        _ => "",
    };

    /// <summary>The initializer that keeps a reference-typed member non-null, or null for value types.</summary>
    public string? Initializer => Shape switch
    {
        MemberShape.Array => "[]",
        MemberShape.Rectangular => $"new {ElementType}[{string.Join(", ", Enumerable.Repeat("0", Rank))}]",
        MemberShape.Dictionary => $"new Dictionary<{KeyType}, {ElementType}>()",
        MemberShape.Scalar when ElementType == "string" => "\"\"",
        _ => null,
    };

    /// <summary>The rank of a rectangular member: the number of row dimensions.</summary>
    public int Rank => Tensor.RowDimensions.Count;

    /// <summary>What one row holds, in words: <c>100 values</c>, <c>shape [3,H,W] as a float[,,]: dimension 0 is 3, ...</c>.</summary>
    public string DescribeRow()
    {
        var spec = Tensor.Spec;
        if (Shape == MemberShape.Dictionary)
        {
            return $"one map per row ({ModelElementTypes(spec.MapKeyType)} key, {ModelElementTypes(spec.ElementType)} value)";
        }

        var shape = "[" + string.Join(",", Tensor.RowDimensions.Select(d => DimText(spec, d))) + "]";
        if (Tensor.FixedRowElements is { } n)
        {
            return n == 1 ? "one value" : $"{n.ToString(CultureInfo.InvariantCulture)} values, shape {shape} flattened row-major";
        }

        var verb = Tensor.Role == TensorRole.Input ? "sets" : "follows";
        if (Shape == MemberShape.Rectangular)
        {
            var dims = Tensor.RowDimensions.Select((d, i) => spec.Dimensions[d] >= 0
                ? string.Create(CultureInfo.InvariantCulture, $"dimension {i} is {spec.Dimensions[d]}")
                : string.Create(CultureInfo.InvariantCulture, $"dimension {i} is {DimText(spec, d)} (free: GetLength({i}) {verb} it)"));
            return $"shape {shape} as a {TypeName}: " + string.Join(", ", dims);
        }

        var free = string.Join(", ", Tensor.FreeRowDimensions.Select(d => DimText(spec, d)));
        return Tensor.FreeRowDimensions.Count == 1
            ? $"shape {shape} flattened row-major; the array's length {verb} the free dimension {free}"
            : $"shape {shape} flattened row-major, with {Tensor.FreeRowDimensions.Count} free dimensions ({free})";
    }

    private static string DimText(TensorSpec spec, int d) =>
        spec.Dimensions[d] >= 0 ? spec.Dimensions[d].ToString(CultureInfo.InvariantCulture)
        : spec.SymbolicDimensions.Count > d && spec.SymbolicDimensions[d].Length > 0 ? spec.SymbolicDimensions[d] : "?";

    private static string ModelElementTypes(ModelElementType type) => type.ToString().ToLowerInvariant();
}

/// <summary>Chooses the C# members for a model's inputs and outputs (the rules of docs/schemas.md).</summary>
internal static class MemberPlanner
{
    /// <summary>The input and output members, named uniquely within their classes.</summary>
    public static (IReadOnlyList<MemberPlan> Inputs, IReadOnlyList<MemberPlan> Outputs) Plan(BatchDescription batching, string inputClass, string outputClass)
    {
        ArgumentNullException.ThrowIfNull(batching);
        return (PlanRole(batching, TensorRole.Input, inputClass), PlanRole(batching, TensorRole.Output, outputClass));
    }

    /// <summary>The C# keyword for an element type, or null when no C# type binds to it.</summary>
    public static string? CSharpType(ModelElementType type) => type switch
    {
        ModelElementType.Float32 => "float",
        ModelElementType.Float64 => "double",
        ModelElementType.Float16 => "Half",
        ModelElementType.Int8 => "sbyte",
        ModelElementType.Int16 => "short",
        ModelElementType.Int32 => "int",
        ModelElementType.Int64 => "long",
        ModelElementType.UInt8 => "byte",
        ModelElementType.UInt16 => "ushort",
        ModelElementType.UInt32 => "uint",
        ModelElementType.UInt64 => "ulong",
        ModelElementType.Bool => "bool",
        ModelElementType.String => "string",
        _ => null,
    };

    private static List<MemberPlan> PlanRole(BatchDescription batching, TensorRole role, string className)
    {
        var tensors = batching.Tensors.Where(t => t.Role == role).ToList();
        var names = CSharpNames.MemberNames(tensors.Select(t => t.Spec.Name), className);
        var result = new List<MemberPlan>();
        for (var i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            var element = CSharpType(t.Spec.ElementType);
            if (t.Spec.Kind == ModelValueKind.SequenceOfMaps && element is not null && CSharpType(t.Spec.MapKeyType) is { } key && role == TensorRole.Output)
            {
                result.Add(new MemberPlan(t, names[i], MemberShape.Dictionary, element, key));
            }
            else if (t.Spec.Kind != ModelValueKind.Tensor || element is null || (element == "string" && role == TensorRole.Input && t.FreeRowDimensions.Count > 1))
            {
                result.Add(new MemberPlan(t, names[i], MemberShape.Unsupported, element ?? "", null));
            }
            else
            {
                // The library binds a row with several free dimensions only to a rectangular array whose lengths give
                // each of them (numeric element types); a flat array fills at most one free dimension.
                var shape = t.FixedRowElements == 1 ? MemberShape.Scalar
                    : t.FreeRowDimensions.Count > 1 && element != "string" ? MemberShape.Rectangular
                    : MemberShape.Array;
                result.Add(new MemberPlan(t, names[i], shape, element, null));
            }
        }

        return result;
    }
}
