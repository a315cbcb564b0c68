namespace ModelInService.Binding;

/// <summary>
/// The shape of one row of a tensor: the declared dimensions without the batch dimension (when the model batches)
/// and with at most one free dimension, which each request's data determines.
/// </summary>
internal sealed class RowShape
{
    public RowShape(TensorSpec spec, bool dynamicBatch)
    {
        var dims = spec.Dimensions;
        var start = dynamicBatch ? 1 : 0;
        RowDims = new long[dims.Count - start];
        FixedElements = 1;
        FreeIndex = -1;
        for (var i = start; i < dims.Count; i++)
        {
            var d = dims[i];
            RowDims[i - start] = d;
            if (d < 0)
            {
                FreeCount++;
                FreeIndex = i - start;
            }
            else
            {
                FixedElements *= d;
            }
        }

        DynamicBatch = dynamicBatch;
        if (FreeCount == 0)
        {
            SingleRowShape = BuildShape(1, 0);
        }
    }

    /// <summary>Whether the first dimension of the tensor is the (free) batch dimension.</summary>
    public bool DynamicBatch { get; }

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

    /// <summary>Builds the full tensor shape for <paramref name="rows"/> rows whose free dimension is <paramref name="freeLength"/>.</summary>
    public long[] ShapeFor(int rows, long freeLength)
    {
        if (rows == 1 && SingleRowShape is not null)
        {
            return SingleRowShape;
        }

        return BuildShape(rows, freeLength);
    }

    private long[] BuildShape(int rows, long freeLength)
    {
        var offset = DynamicBatch ? 1 : 0;
        var shape = new long[RowDims.Length + offset];
        if (DynamicBatch)
        {
            shape[0] = rows;
        }

        for (var i = 0; i < RowDims.Length; i++)
        {
            shape[i + offset] = RowDims[i] < 0 ? freeLength : RowDims[i];
        }

        return shape;
    }
}
