namespace ModelInService.Schema;

/// <summary>
/// The shape of one row of a tensor: the declared dimensions without the batch axis (when the tensor has one), with
/// any number of free dimensions, which each request's data determines. Rows are stacked along
/// <see cref="BatchAxis"/>: with the axis at position k, the tensor is <c>outer x rows x inner</c> where
/// <c>outer</c> is the product of the row's first k dimensions.
/// </summary>
internal sealed class RowShape
{
    public RowShape(TensorSpec spec, int batchAxis)
    {
        var dims = spec.Dimensions;
        BatchAxis = batchAxis;
        RowDims = new long[batchAxis >= 0 ? dims.Count - 1 : dims.Count];
        FixedElements = 1;
        FreeIndex = -1;
        var j = 0;
        for (var i = 0; i < dims.Count; i++)
        {
            if (i == batchAxis)
            {
                continue;
            }

            var d = dims[i];
            RowDims[j] = d;
            if (d < 0)
            {
                FreeCount++;
                FreeIndex = j;
            }
            else
            {
                FixedElements *= d;
            }

            j++;
        }

        if (FreeCount == 0)
        {
            SingleRowShape = BuildShape(1, RowDims);
        }
    }

    /// <summary>A row of a tensor batched on its first dimension (<paramref name="dynamicBatch"/>) or not batched.</summary>
    public RowShape(TensorSpec spec, bool dynamicBatch)
        : this(spec, dynamicBatch ? 0 : -1)
    {
    }

    /// <summary>The batch axis in the full tensor, or -1 when the tensor has none (one value per run).</summary>
    public int BatchAxis { get; }

    /// <summary>The row's dimensions; a free dimension is -1.</summary>
    public long[] RowDims { get; }

    /// <summary>The number of free dimensions in the row.</summary>
    public int FreeCount { get; }

    /// <summary>The index of the (last) free dimension in <see cref="RowDims"/>, or -1.</summary>
    public int FreeIndex { get; }

    /// <summary>The product of the fixed row dimensions (the row's element count when there is no free one).</summary>
    public long FixedElements { get; }

    /// <summary>The full tensor shape for a single row, cached because batch-1 calls are the common case.</summary>
    public long[]? SingleRowShape { get; }

    public bool IsVariable => FreeCount > 0;

    /// <summary>The row's dimensions with its single free dimension (if any) set from the row's element count.</summary>
    public void FillFromLength(long elements, Span<long> destination)
    {
        for (var i = 0; i < RowDims.Length; i++)
        {
            destination[i] = RowDims[i] < 0 ? elements / FixedElements : RowDims[i];
        }
    }

    /// <summary>The product of the row dimensions before the batch axis: how many slices of each row are interleaved.</summary>
    public long OuterOf(ReadOnlySpan<long> rowDims)
    {
        long outer = 1;
        for (var i = 0; i < BatchAxis && i < rowDims.Length; i++)
        {
            outer *= rowDims[i];
        }

        return outer;
    }

    /// <summary>Builds the full tensor shape for <paramref name="rows"/> rows of <paramref name="rowDims"/> (rows are ignored without a batch axis).</summary>
    public long[] ShapeFor(int rows, ReadOnlySpan<long> rowDims)
    {
        if (rows == 1 && SingleRowShape is not null)
        {
            return SingleRowShape;
        }

        return BuildShape(rows, rowDims);
    }

    private long[] BuildShape(int rows, ReadOnlySpan<long> rowDims)
    {
        if (BatchAxis < 0)
        {
            return rowDims.ToArray();
        }

        var shape = new long[rowDims.Length + 1];
        var j = 0;
        for (var i = 0; i < shape.Length; i++)
        {
            shape[i] = i == BatchAxis ? rows : rowDims[j++];
        }

        return shape;
    }
}
