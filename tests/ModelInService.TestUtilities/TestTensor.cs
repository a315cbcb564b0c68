using System.Globalization;

namespace ModelInService.TestUtilities;

/// <summary>
/// A runtime-neutral tensor read from a test file: name, ONNX element type, shape, and the elements as a flat C-order
/// array of the matching CLR type (float[], double[], Half[], sbyte[], short[], int[], long[], byte[], ushort[],
/// uint[], ulong[], bool[] or string[]).
/// </summary>
public sealed class TestTensor
{
    public TestTensor(string name, OnnxDataType elementType, long[] dims, Array data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(dims);
        ArgumentNullException.ThrowIfNull(data);
        var clrType = OnnxDataTypes.ClrType(elementType)
            ?? throw new NotSupportedException($"Tensor '{name}': element type {elementType} is not supported.");
        if (data.GetType().GetElementType() != clrType || data.Rank != 1)
        {
            throw new ArgumentException($"Tensor '{name}': {elementType} data must be a {clrType.Name}[], not {data.GetType().Name}.", nameof(data));
        }

        if (dims.Any(d => d < 0))
        {
            throw new ArgumentException($"Tensor '{name}': negative dimension in [{string.Join(",", dims)}].", nameof(dims));
        }

        var count = ElementCountOf(dims);
        if (count != data.Length)
        {
            throw new ArgumentException($"Tensor '{name}': shape [{string.Join(",", dims)}] holds {count} elements but the data has {data.Length}.", nameof(data));
        }

        Name = name;
        ElementType = elementType;
        Dims = dims;
        Data = data;
    }

    public string Name { get; }

    public OnnxDataType ElementType { get; }

    /// <summary>The shape; empty for a scalar.</summary>
    public long[] Dims { get; }

    /// <summary>The elements in C order, as a typed one-dimensional array.</summary>
    public Array Data { get; }

    public long ElementCount => Data.Length;

    /// <summary>Product of the dimensions (1 for a scalar).</summary>
    public static long ElementCountOf(IEnumerable<long> dims) => dims.Aggregate(1L, (a, d) => checked(a * d));

    /// <summary>The data as <typeparamref name="T"/>[]; throws when the element type is different.</summary>
    /// <remarks>
    /// Checks the exact array type: the CLR lets a byte[] pass as sbyte[] (and ushort[]/short[], uint[]/int[],
    /// ulong[]/long[]), so a plain <c>as T[]</c> would reinterpret the values.
    /// </remarks>
    public T[] As<T>() => Data.GetType() == typeof(T[])
        ? (T[])Data
        : throw new InvalidCastException($"Tensor '{Name}' holds {ElementType} ({Data.GetType().Name}), not {typeof(T).Name}[].");

    /// <summary>Any numeric or bool tensor widened to double (bool as 0/1), for tolerant comparisons.</summary>
    public double[] ToDoubleArray() => ElementType switch
    {
        OnnxDataType.Float => Array.ConvertAll(As<float>(), v => (double)v),
        OnnxDataType.Double => (double[])As<double>().Clone(),
        OnnxDataType.Float16 => Array.ConvertAll(As<Half>(), v => (double)v),
        OnnxDataType.Int8 => Array.ConvertAll(As<sbyte>(), v => (double)v),
        OnnxDataType.Int16 => Array.ConvertAll(As<short>(), v => (double)v),
        OnnxDataType.Int32 => Array.ConvertAll(As<int>(), v => (double)v),
        OnnxDataType.Int64 => Array.ConvertAll(As<long>(), v => (double)v),
        OnnxDataType.UInt8 => Array.ConvertAll(As<byte>(), v => (double)v),
        OnnxDataType.UInt16 => Array.ConvertAll(As<ushort>(), v => (double)v),
        OnnxDataType.UInt32 => Array.ConvertAll(As<uint>(), v => (double)v),
        OnnxDataType.UInt64 => Array.ConvertAll(As<ulong>(), v => (double)v),
        OnnxDataType.Bool => Array.ConvertAll(As<bool>(), v => v ? 1.0 : 0.0),
        _ => throw new InvalidCastException($"Tensor '{Name}' of {ElementType} is not numeric."),
    };

    /// <summary>Any numeric tensor converted to float (for feeding float models).</summary>
    public float[] ToFloatArray() => ElementType == OnnxDataType.Float ? (float[])As<float>().Clone() : Array.ConvertAll(ToDoubleArray(), v => (float)v);

    /// <summary>A copy with another name (e.g. a model's input name for an unnamed TensorProto).</summary>
    public TestTensor WithName(string name) => new(name, ElementType, Dims, Data);

    /// <summary>E.g. <c>input: uint8[2,58]</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name}: {OnnxDataTypes.ShortName(ElementType)}[{string.Join(",", Dims)}]");
}
