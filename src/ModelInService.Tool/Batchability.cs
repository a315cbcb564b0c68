using System.Globalization;

namespace ModelInService.Tool;

/// <summary>Whether a tensor is a model input or output.</summary>
internal enum TensorRole
{
    /// <summary>A model input.</summary>
    Input,

    /// <summary>A model output.</summary>
    Output,
}

/// <summary>How one input or output takes part in batching.</summary>
/// <param name="Spec">The tensor as the library reads it.</param>
/// <param name="Role">Input or output.</param>
/// <param name="BatchAxis">The library's batch axis for the tensor, or null when it has none. A tensor of a model that is not batchable can still have one: its member then holds one row, sent alone.</param>
/// <param name="PerRunConstant">An input without a batch axis in a batchable model: one value for the whole run, which rows batched together must share (the library buckets rows by its value).</param>
/// <param name="RowDimensions">Indexes of the dimensions that make up one row: every dimension but the batch axis (all of them when there is none).</param>
/// <param name="FreeRowDimensions">The free (symbolic or unknown) dimensions among <paramref name="RowDimensions"/>.</param>
internal sealed record TensorBatching(
    TensorSpec Spec,
    TensorRole Role,
    int? BatchAxis,
    bool PerRunConstant,
    IReadOnlyList<int> RowDimensions,
    IReadOnlyList<int> FreeRowDimensions)
{
    /// <summary>The number of elements in one row when every row dimension is fixed; otherwise null.</summary>
    public long? FixedRowElements
    {
        get
        {
            if (Spec.Kind != ModelValueKind.Tensor || FreeRowDimensions.Count > 0)
            {
                return null;
            }

            long count = 1;
            foreach (var d in RowDimensions)
            {
                count *= Spec.Dimensions[d];
            }

            return count;
        }
    }

    /// <summary>A short description of the batch axis: <c>0 (unk__6)</c>, <c>per-run constant</c>, <c>none</c>.</summary>
    public string DescribeAxis()
    {
        if (Spec.Kind == ModelValueKind.SequenceOfMaps && BatchAxis is not null)
        {
            return "one map per row";
        }

        if (BatchAxis is { } axis)
        {
            var symbol = Spec.SymbolicDimensions.Count > axis ? Spec.SymbolicDimensions[axis] : "";
            return symbol.Length > 0 ? $"{axis} ({symbol})" : axis.ToString(CultureInfo.InvariantCulture);
        }

        return PerRunConstant ? "per-run constant" : "none";
    }
}

/// <summary>How rows are grouped so that rows run together have the same shape and share their per-run constants.</summary>
internal enum BucketKind
{
    /// <summary>No buckets: every row has the same shape (or the model is not batchable).</summary>
    None,

    /// <summary>One free dimension per row: rows of the same length run together.</summary>
    Length,

    /// <summary>Several free dimensions per row: rows of the same shape run together.</summary>
    Shape,
}

/// <summary>The batching decision for one model: batchable or not and why, each tensor's batch axis, and the buckets.</summary>
/// <param name="Batchable">Whether rows of several requests can run in one ONNX Runtime call.</param>
/// <param name="Reason">For a batchable model, each tensor's batch axis and the per-run constants; otherwise the library's reason (<see cref="ModelBatchingInfo.Reason"/>).</param>
/// <param name="Tensors">Every input, then every output, in signature order.</param>
/// <param name="Buckets">The kind of buckets.</param>
/// <param name="BucketKeys">What a bucket is keyed by: <c>x dim 2 (H)</c>, <c>value of sr</c>. Empty for <see cref="BucketKind.None"/> without constants.</param>
internal sealed record BatchDescription(
    bool Batchable,
    string Reason,
    IReadOnlyList<TensorBatching> Tensors,
    BucketKind Buckets,
    IReadOnlyList<string> BucketKeys)
{
    /// <summary>The description of the input or output named <paramref name="name"/>.</summary>
    public TensorBatching Find(TensorRole role, string name) =>
        Tensors.First(t => t.Role == role && string.Equals(t.Spec.Name, name, StringComparison.Ordinal));
}

/// <summary>
/// The library's batching decision for a model (<see cref="ModelSignature.Batching"/>, a <see cref="ModelBatchingInfo"/>)
/// in the tool's terms: which dimension of every tensor is its batch axis, what one row (hence one member) holds, and
/// how rows are bucketed. The tool decides nothing here: the axes, the batchability and the reason a model is not
/// batchable are the library's; declared axes (<c>--batch-axis</c>) reach the library as
/// <see cref="ModelOptions.BatchAxes"/> when the model is loaded (<see cref="LoadedModel.LoadAsync"/>).
/// </summary>
internal static class Batchability
{
    /// <summary>Describes how the model with <paramref name="signature"/> batches, from the library's decision.</summary>
    /// <param name="signature">The model's signature, with <see cref="ModelSignature.Batching"/> filled in by the library.</param>
    public static BatchDescription Describe(ModelSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        var info = signature.Batching;
        var tensors = new List<TensorBatching>();
        foreach (var spec in signature.Inputs)
        {
            var entry = info.Find(spec.Name, isInput: true);
            tensors.Add(Make(spec, TensorRole.Input, entry, info.Batchable));
        }

        foreach (var spec in signature.Outputs)
        {
            var entry = info.Find(spec.Name, isInput: false);
            tensors.Add(Make(spec, TensorRole.Output, entry, info.Batchable));
        }

        if (!info.Batchable)
        {
            return new BatchDescription(false, "not batchable: " + info.Reason + "; each request runs alone", tensors, BucketKind.None, []);
        }

        var kind = BucketKind.None;
        var keys = new List<string>();
        var inputs = tensors.Where(t => t.Role == TensorRole.Input).ToList();
        foreach (var t in inputs.Where(t => t.BatchAxis is not null))
        {
            var bucket = info.Find(t.Spec.Name, isInput: true)?.Bucket ?? BatchBucketKind.None;
            if (bucket == BatchBucketKind.Shape)
            {
                kind = BucketKind.Shape;
            }
            else if (bucket == BatchBucketKind.Length && kind == BucketKind.None)
            {
                kind = BucketKind.Length;
            }

            keys.AddRange(t.FreeRowDimensions.Select(d => $"{t.Spec.Name} dim {d}{SymbolSuffix(t.Spec, d)}"));
        }

        var constants = inputs.Where(t => t.PerRunConstant).ToList();
        keys.AddRange(constants.Select(c => $"value of {c.Spec.Name}"));

        var axes = tensors.Where(t => t.BatchAxis is not null)
            .Select(t => t.Spec.Kind == ModelValueKind.SequenceOfMaps
                ? $"'{t.Spec.Name}' (one map per row)"
                : $"'{t.Spec.Name}' dim {t.BatchAxis}{SymbolSuffix(t.Spec, t.BatchAxis!.Value)}");
        var reason = "batchable: the batch axis is " + string.Join(", ", axes);
        if (constants.Count > 0)
        {
            reason += "; per-run constant input" + (constants.Count > 1 ? "s " : " ")
                + string.Join(", ", constants.Select(c => $"'{c.Spec.Name}' {c.Spec}"))
                + ": one value per run, rows batched together must agree on " + (constants.Count > 1 ? "them" : "it");
        }

        return new BatchDescription(true, reason, tensors, kind, keys);
    }

    private static string SymbolSuffix(TensorSpec spec, int dim) =>
        spec.SymbolicDimensions.Count > dim && spec.SymbolicDimensions[dim].Length > 0 ? $" ({spec.SymbolicDimensions[dim]})" : "";

    private static TensorBatching Make(TensorSpec spec, TensorRole role, TensorBatchAxis? entry, bool batchable)
    {
        int? axis = entry is { Axis: >= 0 } ? entry.Axis : null;
        var constant = batchable && role == TensorRole.Input && axis is null && entry?.Bucket == BatchBucketKind.Value;
        var row = new List<int>();
        var free = new List<int>();
        if (spec.Kind == ModelValueKind.Tensor)
        {
            for (var d = 0; d < spec.Dimensions.Count; d++)
            {
                if (d == axis)
                {
                    continue;
                }

                row.Add(d);
                if (spec.Dimensions[d] < 0)
                {
                    free.Add(d);
                }
            }
        }

        return new TensorBatching(spec, role, axis, constant, row, free);
    }
}
