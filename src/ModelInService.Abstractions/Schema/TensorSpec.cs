using System.Globalization;
using System.Text;

namespace ModelInService;

/// <summary>
/// One named input or output of a loaded model: its kind, element type and shape as the model declares them.
/// </summary>
/// <remarks>Instances are immutable and safe to share between threads.</remarks>
public sealed class TensorSpec
{
    internal TensorSpec(
        string name,
        ModelValueKind kind,
        ModelElementType elementType,
        long[] dimensions,
        string[] symbolicDimensions,
        ModelElementType mapKeyType = ModelElementType.Unknown)
    {
        Name = name;
        Kind = kind;
        ElementType = elementType;
        Dimensions = dimensions;
        SymbolicDimensions = symbolicDimensions;
        MapKeyType = mapKeyType;
    }

    /// <summary>Gets the name of the input or output in the model graph.</summary>
    public string Name { get; }

    /// <summary>Gets whether the value is a tensor or a sequence of maps (or something else).</summary>
    public ModelValueKind Kind { get; }

    /// <summary>
    /// Gets the element type: for tensors the tensor's element type; for <see cref="ModelValueKind.SequenceOfMaps"/> the
    /// map's value type.
    /// </summary>
    public ModelElementType ElementType { get; }

    /// <summary>Gets the map key type for <see cref="ModelValueKind.SequenceOfMaps"/>; otherwise <see cref="ModelElementType.Unknown"/>.</summary>
    public ModelElementType MapKeyType { get; }

    /// <summary>Gets the declared dimensions; a free (symbolic or unknown) dimension is -1.</summary>
    public IReadOnlyList<long> Dimensions { get; }

    /// <summary>Gets the symbolic name of each dimension, or an empty string where the dimension has none.</summary>
    public IReadOnlyList<string> SymbolicDimensions { get; }

    /// <summary>Gets whether the first dimension is free, which this library treats as the batch dimension.</summary>
    public bool HasDynamicBatch => Dimensions.Count > 0 && Dimensions[0] < 0;

    /// <summary>Gets, for a map output whose ZipMap node was removed at load, how the maps are rebuilt; otherwise null.</summary>
    internal ZipMapSource? ZipMap { get; init; }

    /// <summary>Gets the name the session is asked for: <see cref="Name"/>, or the ZipMap's input tensor.</summary>
    internal string RunName => ZipMap?.TensorName ?? Name;

    /// <summary>
    /// ONNX's name of a type the library cannot carry (a <c>bfloat16</c> tensor's element type, a <c>seq(tensor(float))</c>
    /// value), so that messages and <c>mis inspect</c> name it instead of saying "unknown"; null for supported types.
    /// </summary>
    internal string? OnnxTypeName { get; init; }

    /// <summary>
    /// True for an input the model declares as a scalar (a shape with no dimensions); false when its dimensions are
    /// known or its shape is not declared (ONNX Runtime reports no dimensions for both).
    /// </summary>
    internal bool IsDeclaredScalar { get; private init; }

    /// <summary>This spec, marked as a declared scalar.</summary>
    internal TensorSpec AsDeclaredScalar() => new(Name, Kind, ElementType, [.. Dimensions], [.. SymbolicDimensions], MapKeyType)
    {
        ZipMap = ZipMap,
        OnnxTypeName = OnnxTypeName,
        IsDeclaredScalar = true,
    };

    /// <summary>Gets a description such as <c>float32 [?,4]</c> or <c>seq(map(int64,float32))</c>.</summary>
    /// <returns>The description used in error messages.</returns>
    public override string ToString()
    {
        if (Kind == ModelValueKind.SequenceOfMaps)
        {
            return $"seq(map({ModelElementTypes.Describe(MapKeyType)},{ModelElementTypes.Describe(ElementType)}))";
        }

        if (Kind == ModelValueKind.Other)
        {
            return OnnxTypeName ?? "non-tensor value";
        }

        var element = ElementType == ModelElementType.Unknown && OnnxTypeName is not null ? OnnxTypeName + " (not supported)" : ModelElementTypes.Describe(ElementType);
        return element + " " + DescribeShape(Dimensions, SymbolicDimensions);
    }

    internal static string DescribeShape(IReadOnlyList<long> dims, IReadOnlyList<string>? symbolic = null)
    {
        var sb = new StringBuilder("[");
        for (var i = 0; i < dims.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            if (dims[i] >= 0)
            {
                sb.Append(dims[i].ToString(CultureInfo.InvariantCulture));
            }
            else if (symbolic is not null && i < symbolic.Count && !string.IsNullOrEmpty(symbolic[i]))
            {
                sb.Append(symbolic[i]);
            }
            else
            {
                sb.Append('?');
            }
        }

        return sb.Append(']').ToString();
    }
}
