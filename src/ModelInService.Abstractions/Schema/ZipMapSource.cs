namespace ModelInService;

/// <summary>
/// How a <see cref="ModelValueKind.SequenceOfMaps"/> output whose ZipMap node was removed from the graph is rebuilt:
/// the session returns <see cref="TensorName"/> (the ZipMap's float input, one row per map) and the maps are made in
/// managed code with these keys.
/// </summary>
/// <remarks>
/// Keys are in the order the maps hold them (ascending, as ONNX Runtime's map does: numerically, or by UTF-8 bytes);
/// <see cref="Columns"/> gives the tensor column of each key.
/// </remarks>
internal sealed class ZipMapSource(string tensorName, long[]? int64Keys, string[]? stringKeys, int[] columns)
{
    /// <summary>Gets the tensor the session is asked for in place of the map output.</summary>
    public string TensorName { get; } = tensorName;

    /// <summary>Gets the keys when they are int64, in map order.</summary>
    public long[]? Int64Keys { get; } = int64Keys;

    /// <summary>Gets the keys when they are strings, in map order.</summary>
    public string[]? StringKeys { get; } = stringKeys;

    /// <summary>Gets, for each key in map order, its column in the tensor.</summary>
    public int[] Columns { get; } = columns;

    /// <summary>Gets how many entries each map has.</summary>
    public int Width => Columns.Length;

    /// <summary>Gets whether the tensor's columns are already in map order (no reordering needed).</summary>
    public bool InOrder
    {
        get
        {
            for (var i = 0; i < Columns.Length; i++)
            {
                if (Columns[i] != i)
                {
                    return false;
                }
            }

            return true;
        }
    }
}
