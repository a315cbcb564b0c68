using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelInService;

/// <summary>
/// A named value for <see cref="IModelRunner"/>: usually a tensor (element type, shape and flat row-major data); an
/// output can also be a sequence of maps (<see cref="Kind"/> is <see cref="ModelValueKind.SequenceOfMaps"/>, e.g.
/// sklearn-onnx's ZipMap probabilities), read with <see cref="GetMaps{TKey, TValue}"/>.
/// </summary>
/// <remarks>Treat instances as immutable; the data array is not copied.</remarks>
public sealed class NamedTensor
{
    private NamedTensor(string name, ModelElementType elementType, long[] shape, Array data, ModelValueKind kind = ModelValueKind.Tensor, ModelElementType mapKeyType = ModelElementType.Unknown)
    {
        Name = name;
        ElementType = elementType;
        Shape = shape;
        Data = data;
        Kind = kind;
        MapKeyType = mapKeyType;
    }

    /// <summary>Gets the kind of value: <see cref="ModelValueKind.Tensor"/>, or <see cref="ModelValueKind.SequenceOfMaps"/> for a ZipMap-style output.</summary>
    public ModelValueKind Kind { get; }

    /// <summary>Gets the map key type (<see cref="ModelElementType.Int64"/> or <see cref="ModelElementType.String"/>) of a sequence of maps; otherwise <see cref="ModelElementType.Unknown"/>.</summary>
    public ModelElementType MapKeyType { get; }

    /// <summary>Gets the input or output name.</summary>
    public string Name { get; }

    /// <summary>Gets the element type.</summary>
    public ModelElementType ElementType { get; }

    /// <summary>Gets the dimensions; for a sequence of maps, one dimension: the number of maps.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Gets the elements in row-major order: a <c>float[]</c>, <c>long[]</c>, <c>string[]</c>, ... matching <see cref="ElementType"/>; for a sequence of maps an <c>IReadOnlyDictionary&lt;TKey, TValue&gt;[]</c> (one map per row).</summary>
    public Array Data { get; }

    /// <summary>Creates a tensor.</summary>
    /// <typeparam name="T">float, double, Half, sbyte, short, int, long, byte, ushort, uint, ulong, bool or string.</typeparam>
    /// <param name="name">The model input name.</param>
    /// <param name="data">The elements in row-major order (not copied).</param>
    /// <param name="shape">The dimensions; their product must equal the data length.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentException">The element type is not supported, or the shape does not fit the data.</exception>
    public static NamedTensor Create<T>(string name, T[] data, params long[] shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        var type = ModelElementTypes.FromClr(typeof(T));
        if (type == ModelElementType.Unknown)
        {
            throw new ArgumentException($"Element type {typeof(T).Name} is not supported.", nameof(data));
        }

        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Dimension {d} is negative.", nameof(shape));
            }

            // Checked: a shape whose product overflows (4 x (2^62 + 1) wraps to 4) passed as fitting 4 values and failed
            // in ONNX Runtime's allocation as a raw OnnxRuntimeException.
            count = d == 0 || count <= long.MaxValue / d
                ? count * d
                : throw new ArgumentException($"Shape {TensorSpec.DescribeShape(shape)} holds more than {long.MaxValue} elements.", nameof(shape));
        }

        if (count != data.Length)
        {
            throw new ArgumentException($"Shape {TensorSpec.DescribeShape(shape)} holds {count} elements but the data has {data.Length}.", nameof(shape));
        }

        return new NamedTensor(name, type, (long[])shape.Clone(), data);
    }

    /// <summary>Gets the data as a typed array.</summary>
    /// <typeparam name="T">The CLR element type matching <see cref="ElementType"/>.</typeparam>
    /// <returns>The data array (not a copy).</returns>
    /// <exception cref="InvalidCastException"><typeparamref name="T"/> does not match the element type.</exception>
    public T[] GetData<T>() =>
        Data as T[] ?? throw new InvalidCastException(Kind == ModelValueKind.SequenceOfMaps
            ? $"'{Name}' is a sequence of maps; read it with GetMaps<{ModelElementTypes.CSharpName(ModelElementTypes.ClrType(MapKeyType) ?? typeof(object))}, {ModelElementTypes.CSharpName(ModelElementTypes.ClrType(ElementType) ?? typeof(object))}>()."
            : $"Tensor '{Name}' holds {ModelElementTypes.Describe(ElementType)} elements, not {typeof(T).Name}.");

    /// <summary>Gets the maps of a sequence-of-maps output (one per row, e.g. class probabilities by label).</summary>
    /// <typeparam name="TKey"><c>long</c> or <c>string</c>, matching <see cref="MapKeyType"/>.</typeparam>
    /// <typeparam name="TValue"><c>float</c> or <c>double</c>, matching <see cref="ElementType"/>.</typeparam>
    /// <returns>The maps (not a copy).</returns>
    /// <exception cref="InvalidCastException">The value is not a sequence of maps of these types.</exception>
    public IReadOnlyList<IReadOnlyDictionary<TKey, TValue>> GetMaps<TKey, TValue>()
        where TKey : notnull =>
        Data as IReadOnlyDictionary<TKey, TValue>[] ?? throw new InvalidCastException(Kind == ModelValueKind.SequenceOfMaps
            ? $"'{Name}' is seq(map({ModelElementTypes.Describe(MapKeyType)},{ModelElementTypes.Describe(ElementType)})), not maps of {typeof(TKey).Name} to {typeof(TValue).Name}."
            : $"'{Name}' is a tensor, not a sequence of maps.");

    internal static NamedTensor FromMaps<TKey, TValue>(string name, ModelElementType keyType, ModelElementType valueType, IReadOnlyDictionary<TKey, TValue>[] maps)
        where TKey : notnull =>
        new(name, valueType, [maps.Length], maps, ModelValueKind.SequenceOfMaps, keyType);

    internal static NamedTensor FromRaw(string name, ModelElementType type, long[] shape, Array data) => new(name, type, shape, data);

    /// <summary>The data's bytes (numeric/bool types only).</summary>
    internal static Span<byte> Bytes(Array data)
    {
        var size = Unsafe.SizeOf<byte>() * ElementSize(data.GetType().GetElementType()!);
        return MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(data), checked(data.Length * size));
    }

    internal static int ElementSize(Type type) =>
        type == typeof(double) || type == typeof(long) || type == typeof(ulong) ? 8
        : type == typeof(float) || type == typeof(int) || type == typeof(uint) ? 4
        : type == typeof(Half) || type == typeof(short) || type == typeof(ushort) ? 2
        : 1;
}
