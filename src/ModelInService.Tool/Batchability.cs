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
/// <param name="BatchAxis">The batch axis, or null when the tensor has none (unbatchable model, or a per-run constant input).</param>
/// <param name="PerRunConstant">An input without a batch axis in a batchable model: one value for the whole run, which rows batched together must share.</param>
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
/// <param name="Reason">Why, naming the tensor and dimension that decide it.</param>
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
/// Decides batchability from a <see cref="ModelSignature"/> with the rule the library's binder is moving to (issue 13):
/// a free first dimension on every input and output is the batch axis whatever its symbol (<c>batch</c>, <c>unk__6</c>,
/// <c>p2o.DynamicDimension.0</c>, unnamed); an output with a fixed or absent first dimension, or a non-tensor value
/// other than a ZipMap sequence of maps (one map per row), makes the model unbatchable, and the reason names the tensor
/// and dimension; inputs without a free first dimension are per-run constants (rows batched together must agree on
/// them); a row with one free dimension gives length buckets, more than one gives shape buckets.
/// </summary>
/// <remarks>
/// This is the only place the tool decides batchability. When the library publishes its own description of a model's
/// batching, <see cref="Describe"/> becomes a translation of that description into <see cref="BatchDescription"/>, and
/// nothing else in the tool changes.
/// </remarks>
internal static class Batchability
{
    /// <summary>Describes how the model with <paramref name="signature"/> batches.</summary>
    /// <param name="signature">The model's signature.</param>
    /// <param name="batchAxes">Declared batch axes by tensor name (the library's per-tensor override); others use dimension 0.</param>
    public static BatchDescription Describe(ModelSignature signature, IReadOnlyDictionary<string, int>? batchAxes = null)
    {
        ArgumentNullException.ThrowIfNull(signature);
        batchAxes ??= new Dictionary<string, int>();
        string? refusal = null;
        var inputAxes = new int?[signature.Inputs.Count];
        for (var i = 0; i < signature.Inputs.Count && refusal is null; i++)
        {
            var spec = signature.Inputs[i];
            if (spec.Kind != ModelValueKind.Tensor)
            {
                refusal = $"input '{spec.Name}' is a {spec} (not a tensor), so it has no batch axis";
                break;
            }

            if (batchAxes.TryGetValue(spec.Name, out var declared))
            {
                refusal = CheckDeclared(spec, "input", declared);
                inputAxes[i] = declared;
            }
            else if (spec.Dimensions.Count > 0 && spec.Dimensions[0] < 0)
            {
                inputAxes[i] = 0;
            }
        }

        if (refusal is null && signature.Inputs.Count == 0)
        {
            refusal = "the model has no inputs";
        }

        if (refusal is null && inputAxes.All(a => a is null))
        {
            var first = signature.Inputs[0];
            refusal = signature.Inputs.Count == 1
                ? $"input '{first.Name}' has no free first dimension: {DescribeFirst(first)}{AxisHint(first)}"
                : $"no input has a free first dimension (input '{first.Name}': {DescribeFirst(first)}{AxisHint(first)})";
        }

        var outputAxes = new int?[signature.Outputs.Count];
        for (var i = 0; i < signature.Outputs.Count && refusal is null; i++)
        {
            var spec = signature.Outputs[i];
            if (spec.Kind == ModelValueKind.SequenceOfMaps)
            {
                outputAxes[i] = 0;
            }
            else if (spec.Kind != ModelValueKind.Tensor)
            {
                refusal = $"output '{spec.Name}' is a non-tensor value (neither a tensor nor a ZipMap sequence of maps), so it cannot be split into rows";
            }
            else if (batchAxes.TryGetValue(spec.Name, out var declared))
            {
                refusal = CheckDeclared(spec, "output", declared);
                outputAxes[i] = declared;
            }
            else if (spec.Dimensions.Count > 0 && spec.Dimensions[0] < 0)
            {
                outputAxes[i] = 0;
            }
            else
            {
                refusal = $"output '{spec.Name}' has no free first dimension ({DescribeFirst(spec)}), so it cannot hold one row per batch item{AxisHint(spec)}";
            }
        }

        if (refusal is not null)
        {
            var whole = signature.Inputs.Select(s => Make(s, TensorRole.Input, null, false))
                .Concat(signature.Outputs.Select(s => Make(s, TensorRole.Output, null, false)))
                .ToList();
            return new BatchDescription(false, "not batchable: " + refusal + "; each request runs alone", whole, BucketKind.None, []);
        }

        var tensors = new List<TensorBatching>();
        for (var i = 0; i < signature.Inputs.Count; i++)
        {
            tensors.Add(Make(signature.Inputs[i], TensorRole.Input, inputAxes[i], inputAxes[i] is null));
        }

        for (var i = 0; i < signature.Outputs.Count; i++)
        {
            tensors.Add(Make(signature.Outputs[i], TensorRole.Output, outputAxes[i], false));
        }

        var batched = tensors.Where(t => t.Role == TensorRole.Input && t.BatchAxis is not null).ToList();
        var constants = tensors.Where(t => t.PerRunConstant).ToList();
        var keys = new List<string>();
        var kind = BucketKind.None;
        foreach (var t in batched)
        {
            if (t.FreeRowDimensions.Count > 1)
            {
                kind = BucketKind.Shape;
            }
            else if (t.FreeRowDimensions.Count == 1 && kind == BucketKind.None)
            {
                kind = BucketKind.Length;
            }

            foreach (var d in t.FreeRowDimensions)
            {
                keys.Add($"{t.Spec.Name} dim {d}{SymbolSuffix(t.Spec, d)}");
            }
        }

        keys.AddRange(constants.Select(c => $"value of {c.Spec.Name}"));

        var axes = batched.Select(t => $"'{t.Spec.Name}' dim {t.BatchAxis}{SymbolSuffix(t.Spec, t.BatchAxis!.Value)}")
            .Concat(tensors.Where(t => t.Role == TensorRole.Output).Select(t =>
                t.Spec.Kind == ModelValueKind.SequenceOfMaps
                    ? $"'{t.Spec.Name}' (one map per row)"
                    : $"'{t.Spec.Name}' dim {t.BatchAxis}{SymbolSuffix(t.Spec, t.BatchAxis!.Value)}"));
        var reason = "batchable: the batch axis is " + string.Join(", ", axes);
        if (constants.Count > 0)
        {
            reason += "; per-run constant input" + (constants.Count > 1 ? "s " : " ")
                + string.Join(", ", constants.Select(c => $"'{c.Spec.Name}' ({DescribeFirst(c.Spec)}{AxisHint(c.Spec)})"))
                + ": rows batched together must agree on " + (constants.Count > 1 ? "them" : "it");
        }

        return new BatchDescription(true, reason, tensors, kind, keys);
    }

    private static string? CheckDeclared(TensorSpec spec, string role, int axis)
    {
        if (spec.Kind != ModelValueKind.Tensor)
        {
            return $"{role} '{spec.Name}' is a {spec}, so it has no dimension {axis}";
        }

        if (axis < 0 || axis >= spec.Dimensions.Count)
        {
            return $"{role} '{spec.Name}' has rank {spec.Dimensions.Count}: no dimension {axis} to be its declared batch axis";
        }

        return spec.Dimensions[axis] >= 0
            ? $"{role} '{spec.Name}' dimension {axis} (the declared batch axis) is fixed at {spec.Dimensions[axis]}"
            : null;
    }

    private static string DescribeFirst(TensorSpec spec) => spec.Dimensions.Count == 0
        ? "it is a scalar (rank 0)"
        : $"dimension 0 is fixed at {spec.Dimensions[0].ToString(CultureInfo.InvariantCulture)} in {spec}";

    /// <summary>When the tensor has a free dimension after the first, the declaration that would make it the batch axis.</summary>
    private static string AxisHint(TensorSpec spec)
    {
        for (var d = 1; d < spec.Dimensions.Count; d++)
        {
            if (spec.Dimensions[d] < 0)
            {
                return $"; its dimension {d}{SymbolSuffix(spec, d)} is free: if that is the batch, declare it (mis: --batch-axis {spec.Name}={d})";
            }
        }

        return "";
    }

    private static string SymbolSuffix(TensorSpec spec, int dim) =>
        spec.SymbolicDimensions.Count > dim && spec.SymbolicDimensions[dim].Length > 0 ? $" ({spec.SymbolicDimensions[dim]})" : "";

    private static TensorBatching Make(TensorSpec spec, TensorRole role, int? axis, bool constant)
    {
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
