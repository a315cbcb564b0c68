using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ModelInService;

/// <summary>A named tensor for <see cref="IModelRunner"/>: element type, shape and flat row-major data.</summary>
/// <remarks>Treat instances as immutable; the data array is not copied.</remarks>
public sealed class NamedTensor
{
    private NamedTensor(string name, ModelElementType elementType, long[] shape, Array data)
    {
        Name = name;
        ElementType = elementType;
        Shape = shape;
        Data = data;
    }

    /// <summary>Gets the input or output name.</summary>
    public string Name { get; }

    /// <summary>Gets the element type.</summary>
    public ModelElementType ElementType { get; }

    /// <summary>Gets the dimensions.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Gets the elements in row-major order: a <c>float[]</c>, <c>long[]</c>, <c>string[]</c>, ... matching <see cref="ElementType"/>.</summary>
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

            count *= d;
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
        Data as T[] ?? throw new InvalidCastException($"Tensor '{Name}' holds {ModelElementTypes.Describe(ElementType)} elements, not {typeof(T).Name}.");

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
