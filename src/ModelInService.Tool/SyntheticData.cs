using System.Globalization;

namespace ModelInService.Tool;

/// <summary>
/// Deterministic synthetic values of the right element type and shape, for the timing runs (and for tests): floats in
/// [0, 1), integers 0 (valid indices for embeddings and gathers), <see langword="false"/>, the string <c>"a"</c>; or one
/// value given for a tensor by name.
/// </summary>
internal sealed class SyntheticData
{
    /// <summary>The size given to a free dimension that is not a batch axis and has no size of its own.</summary>
    public const int DefaultFreeDimension = 32;

    private readonly IReadOnlyDictionary<string, long> _dimensions;
    private readonly IReadOnlyDictionary<string, string> _values;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="dimensions">Sizes of free dimensions by symbol (<c>H</c>) or by tensor and position (<c>input[1]</c>); others get <see cref="DefaultFreeDimension"/>.</param>
    /// <param name="values">Values per tensor name: one for every element (<c>sr=16000</c>), or a comma-separated list repeated over the elements (<c>scales=1,1,2,2</c>).</param>
    public SyntheticData(IReadOnlyDictionary<string, long>? dimensions = null, IReadOnlyDictionary<string, string>? values = null)
    {
        _dimensions = dimensions ?? new Dictionary<string, long>();
        _values = values ?? new Dictionary<string, string>();
    }

    /// <summary>
    /// The concrete shape of <paramref name="tensor"/> in a run of <paramref name="batch"/> rows: the batch axis is
    /// <paramref name="batch"/>, a free dimension whose symbol is some batched tensor's batch symbol is too, others are
    /// sized by symbol or <see cref="DefaultFreeDimension"/>.
    /// </summary>
    public long[] Shape(TensorBatching tensor, int batch, ISet<string> batchSymbols)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var spec = tensor.Spec;
        var shape = new long[spec.Dimensions.Count];
        for (var d = 0; d < shape.Length; d++)
        {
            var symbol = spec.SymbolicDimensions.Count > d ? spec.SymbolicDimensions[d] : "";
            if (d == tensor.BatchAxis)
            {
                shape[d] = batch;
            }
            else if (spec.Dimensions[d] >= 0)
            {
                shape[d] = spec.Dimensions[d];
            }
            else if (_dimensions.TryGetValue(string.Create(CultureInfo.InvariantCulture, $"{spec.Name}[{d}]"), out var byPosition))
            {
                shape[d] = byPosition;
            }
            else if (symbol.Length > 0 && _dimensions.TryGetValue(symbol, out var size))
            {
                shape[d] = size;
            }
            else if (symbol.Length > 0 && batchSymbols.Contains(symbol))
            {
                shape[d] = batch;
            }
            else
            {
                shape[d] = DefaultFreeDimension;
            }
        }

        return shape;
    }

    /// <summary>The symbols of the batch axes of the batched inputs.</summary>
    public static ISet<string> BatchSymbols(BatchDescription batching)
    {
        ArgumentNullException.ThrowIfNull(batching);
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in batching.Tensors)
        {
            if (t.BatchAxis is { } axis && t.Spec.Kind == ModelValueKind.Tensor && t.Spec.SymbolicDimensions[axis].Length > 0)
            {
                set.Add(t.Spec.SymbolicDimensions[axis]);
            }
        }

        return set;
    }

    /// <summary>An array of <paramref name="count"/> values for <paramref name="spec"/> (<c>float[]</c>, <c>long[]</c>, <c>string[]</c>...).</summary>
    /// <exception cref="NotSupportedException">The element type has no C# array type.</exception>
    /// <exception cref="FormatException">A given value does not parse as the element type.</exception>
    public Array Values(TensorSpec spec, long count)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var n = checked((int)count);
        _values.TryGetValue(spec.Name, out var given);
        var inv = CultureInfo.InvariantCulture;
        return spec.ElementType switch
        {
            ModelElementType.Float32 => Fill(n, given, s => float.Parse(s, inv), i => (float)Unit(i)),
            ModelElementType.Float64 => Fill(n, given, s => double.Parse(s, inv), Unit),
            ModelElementType.Float16 => Fill(n, given, s => Half.Parse(s, inv), i => (Half)Unit(i)),
            ModelElementType.Int8 => Fill<sbyte>(n, given, s => sbyte.Parse(s, inv), _ => 0),
            ModelElementType.Int16 => Fill<short>(n, given, s => short.Parse(s, inv), _ => 0),
            ModelElementType.Int32 => Fill(n, given, s => int.Parse(s, inv), _ => 0),
            ModelElementType.Int64 => Fill(n, given, s => long.Parse(s, inv), _ => 0L),
            ModelElementType.UInt8 => Fill<byte>(n, given, s => byte.Parse(s, inv), _ => 0),
            ModelElementType.UInt16 => Fill<ushort>(n, given, s => ushort.Parse(s, inv), _ => 0),
            ModelElementType.UInt32 => Fill(n, given, s => uint.Parse(s, inv), _ => 0u),
            ModelElementType.UInt64 => Fill(n, given, s => ulong.Parse(s, inv), _ => 0ul),
            ModelElementType.Bool => Fill(n, given, s => bool.Parse(s), _ => false),
            ModelElementType.String => Fill(n, given, s => s, _ => "a"),
            _ => throw new NotSupportedException($"'{spec.Name}' is {spec}: no synthetic values for that element type."),
        };
    }

    private static double Unit(int i) => ((i * 2654435761u) % 1000u) / 1000.0;

    private static T[] Fill<T>(int n, string? given, Func<string, T> parse, Func<int, T> make)
    {
        var result = new T[n];
        if (given is not null)
        {
            var parts = given.Split(',').Select(parse).ToArray();
            for (var i = 0; i < n; i++)
            {
                result[i] = parts[i % parts.Length];
            }

            return result;
        }

        for (var i = 0; i < n; i++)
        {
            result[i] = make(i);
        }

        return result;
    }
}
