using System.Globalization;
using Onnx;

namespace ModelInService.TestUtilities;

/// <summary>One dimension of a declared shape: a fixed size, a symbolic name, or unknown.</summary>
public readonly record struct DimInfo(long? Value, string? Param)
{
    public bool IsFixed => Value is not null;

    /// <summary>"4", "batch" or "?".</summary>
    public override string ToString() => Value?.ToString(CultureInfo.InvariantCulture) ?? Param ?? "?";
}

/// <summary>A graph input or output as declared in the model file.</summary>
/// <param name="Name">The value's name.</param>
/// <param name="Kind">"tensor", "sequence", "map", "optional", "sparse_tensor" or "unknown".</param>
/// <param name="ElementType">The tensor element type (for a tensor), else <see cref="OnnxDataType.Undefined"/>.</param>
/// <param name="Shape">The tensor's declared dimensions, or null when the shape (or rank) is not declared.</param>
/// <param name="Type">A readable type, e.g. <c>float32[batch,4]</c> or <c>seq(map(int64,float32))</c>.</param>
public sealed record ValueInfo(string Name, string Kind, OnnxDataType ElementType, IReadOnlyList<DimInfo>? Shape, string Type)
{
    public override string ToString() => $"{Name}: {Type}";
}

/// <summary>
/// The signature and header of an .onnx file read straight from its ModelProto (without ONNX Runtime): graph inputs
/// (initializers excluded, as IR &lt; 4 models also list them as inputs), outputs, IR version, opsets, producer and
/// metadata_props.
/// </summary>
public sealed record OnnxModelInfo(
    IReadOnlyList<ValueInfo> Inputs,
    IReadOnlyList<ValueInfo> Outputs,
    long IrVersion,
    IReadOnlyDictionary<string, long> Opsets,
    string ProducerName,
    IReadOnlyDictionary<string, string> Metadata)
{
    public static OnnxModelInfo Read(string path) => FromProto(ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)));

    public static OnnxModelInfo Parse(byte[] bytes) => FromProto(ModelProto.Parser.ParseFrom(bytes));

    public static OnnxModelInfo FromProto(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = model.Graph ?? throw new InvalidDataException("The model has no graph.");
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var opsets = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var opset in model.OpsetImport)
        {
            opsets[string.IsNullOrEmpty(opset.Domain) ? "ai.onnx" : opset.Domain] = opset.Version;
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in model.MetadataProps)
        {
            metadata[entry.Key] = entry.Value;
        }

        return new OnnxModelInfo(
            graph.Input.Where(i => !initializers.Contains(i.Name)).Select(ToValueInfo).ToArray(),
            graph.Output.Select(ToValueInfo).ToArray(),
            model.IrVersion,
            opsets,
            model.ProducerName,
            metadata);
    }

    public ValueInfo Input(string name) => Inputs.Single(i => i.Name == name);

    public ValueInfo Output(string name) => Outputs.Single(o => o.Name == name);

    private static ValueInfo ToValueInfo(ValueInfoProto value)
    {
        var type = value.Type;
        if (type?.TensorType is { } tensor)
        {
            var elementType = (OnnxDataType)tensor.ElemType;
            var shape = tensor.Shape?.Dim.Select(ToDim).ToArray();
            return new ValueInfo(value.Name, "tensor", elementType, shape, Describe(type));
        }

        var kind = type?.ValueCase switch
        {
            TypeProto.ValueOneofCase.SequenceType => "sequence",
            TypeProto.ValueOneofCase.MapType => "map",
            TypeProto.ValueOneofCase.OptionalType => "optional",
            TypeProto.ValueOneofCase.SparseTensorType => "sparse_tensor",
            _ => "unknown",
        };
        return new ValueInfo(value.Name, kind, OnnxDataType.Undefined, null, Describe(type));
    }

    private static DimInfo ToDim(TensorShapeProto.Types.Dimension dim) => dim.ValueCase switch
    {
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => new DimInfo(dim.DimValue, null),
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => new DimInfo(null, dim.DimParam),
        _ => new DimInfo(null, null),
    };

    private static string Describe(TypeProto? type) => type?.ValueCase switch
    {
        TypeProto.ValueOneofCase.TensorType => OnnxDataTypes.ShortName((OnnxDataType)type.TensorType.ElemType) +
            (type.TensorType.Shape is null ? string.Empty : $"[{string.Join(",", type.TensorType.Shape.Dim.Select(ToDim))}]"),
        TypeProto.ValueOneofCase.SequenceType => $"seq({Describe(type.SequenceType.ElemType)})",
        TypeProto.ValueOneofCase.MapType =>
            $"map({OnnxDataTypes.ShortName((OnnxDataType)type.MapType.KeyType)},{Describe(type.MapType.ValueType)})",
        TypeProto.ValueOneofCase.OptionalType => $"optional({Describe(type.OptionalType.ElemType)})",
        TypeProto.ValueOneofCase.SparseTensorType =>
            $"sparse_tensor({OnnxDataTypes.ShortName((OnnxDataType)type.SparseTensorType.ElemType)})",
        _ => "unknown",
    };
}
