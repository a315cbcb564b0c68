using System.Globalization;

namespace ModelInService.Schema;

/// <summary>
/// Decides the batch axis of every input and output of a model and whether it can run several rows together, from
/// its signature and the <see cref="ModelOptions.BatchAxis"/>/<see cref="ModelOptions.BatchAxes"/> overrides. Runs
/// once at load.
/// </summary>
internal static class BatchAxisAnalysis
{
    /// <summary>
    /// Analyses <paramref name="signature"/>. Invalid overrides (unknown names, axes out of range, fixed dimensions)
    /// are added to <paramref name="errors"/>. Only outputs in <paramref name="outputs"/> count (all when null).
    /// </summary>
    public static ModelBatchingInfo Analyze(ModelSignature signature, ModelOptions options, IReadOnlyCollection<string>? outputs, List<string> errors)
    {
        foreach (var name in options.BatchAxes.Keys)
        {
            if (signature.FindInput(name) is null && signature.FindOutput(name) is null)
            {
                errors.Add($"ModelOptions.BatchAxes names '{name}', which is neither an input nor an output of the model (inputs: {string.Join(", ", signature.Inputs.Select(i => $"'{i.Name}'"))}; outputs: {string.Join(", ", signature.Outputs.Select(o => $"'{o.Name}'"))})");
            }
        }

        // Symbols of free first dimensions of the inputs: a free dimension elsewhere with one of these names is the batch too (gpt2's past_* [2,batch_size,...]).
        var batchSymbols = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in signature.Inputs)
        {
            if (spec.Kind == ModelValueKind.Tensor && spec.HasDynamicBatch && spec.SymbolicDimensions.Count > 0 && spec.SymbolicDimensions[0].Length > 0)
            {
                batchSymbols.Add(spec.SymbolicDimensions[0]);
            }
        }

        string? reason = null;
        var tensors = new List<TensorBatchAxis>();
        var anyBatchedInput = false;
        string? firstUnbatchedInput = null;
        foreach (var spec in signature.Inputs)
        {
            if (spec.Kind != ModelValueKind.Tensor)
            {
                reason ??= $"input '{spec.Name}' is a {spec}, not a tensor";
                firstUnbatchedInput ??= $"input '{spec.Name}' is a {spec}, not a tensor";
                tensors.Add(new TensorBatchAxis(spec.Name, true, spec.ToString(), -1, BatchBucketKind.Value));
                continue;
            }

            var axis = AxisOf(spec, "input", options, batchSymbols, errors);
            if (axis >= 0)
            {
                anyBatchedInput = true;
            }
            else
            {
                firstUnbatchedInput ??= Why(spec, "input");

                // A free dimension on an input without a batch axis is most likely a batch on another axis (a recurrent
                // state [2,N,128]): guessing "one value per run" could hand outputs to the wrong rows, so the user says.
                var free = FirstFree(spec);
                if (free >= 0 && !options.BatchAxes.ContainsKey(spec.Name) && options.BatchAxis is null)
                {
                    reason ??= $"input '{spec.Name}' {Shape(spec)} has a free dimension {free} but no batch axis was found; set ModelOptions.BatchAxes[\"{spec.Name}\"] = {free} if dimension {free} holds the rows (and the same for the outputs that carry them), or -1 if the input holds one value for the whole run";
                }
            }

            if (spec.ElementType == ModelElementType.String && axis != 0)
            {
                reason ??= axis < 0
                    ? $"string input '{spec.Name}' {Shape(spec)} has no batch axis (string inputs batch on axis 0 only)"
                    : $"string input '{spec.Name}' {Shape(spec)} has its batch on axis {axis} (string inputs batch on axis 0 only)";
            }

            tensors.Add(new TensorBatchAxis(spec.Name, true, spec.ToString(), axis, BucketOf(spec, axis)));
        }

        if (!anyBatchedInput)
        {
            reason = signature.Inputs.Count == 0
                ? "the model has no inputs"
                : $"no input has a batch axis: {firstUnbatchedInput}";
        }

        foreach (var spec in signature.Outputs)
        {
            if (outputs is not null && !outputs.Contains(spec.Name))
            {
                continue;
            }

            if (spec.Kind == ModelValueKind.SequenceOfMaps)
            {
                tensors.Add(new TensorBatchAxis(spec.Name, false, spec.ToString(), 0, BatchBucketKind.None));
                continue;
            }

            if (spec.Kind != ModelValueKind.Tensor)
            {
                reason ??= $"output '{spec.Name}' is a {spec}, which cannot be split into rows";
                tensors.Add(new TensorBatchAxis(spec.Name, false, spec.ToString(), -1, BatchBucketKind.None));
                continue;
            }

            var axis = AxisOf(spec, "output", options, batchSymbols, errors);
            if (axis < 0)
            {
                reason ??= $"output '{spec.Name}' has no batch axis: {Why(spec, "output")}";
            }
            else if (spec.ElementType == ModelElementType.String && axis != 0)
            {
                reason ??= $"string output '{spec.Name}' {Shape(spec)} has its batch on axis {axis} (string outputs batch on axis 0 only)";
            }

            tensors.Add(new TensorBatchAxis(spec.Name, false, spec.ToString(), axis, BatchBucketKind.None));
        }

        return new ModelBatchingInfo(reason is null, reason, tensors);
    }

    private static int AxisOf(TensorSpec spec, string kind, ModelOptions options, HashSet<string> batchSymbols, List<string> errors)
    {
        var dims = spec.Dimensions;
        string? option = null;
        int requested;
        if (options.BatchAxes.TryGetValue(spec.Name, out var perTensor))
        {
            option = $"BatchAxes[\"{spec.Name}\"]";
            requested = perTensor;
        }
        else if (options.BatchAxis is { } all)
        {
            option = "BatchAxis";
            requested = all;
        }
        else
        {
            requested = Automatic(spec, batchSymbols);
        }

        if (option is null || requested < 0)
        {
            return requested < 0 ? -1 : requested;
        }

        if (requested >= dims.Count)
        {
            errors.Add($"ModelOptions.{option} is {requested}, but {kind} '{spec.Name}' {Shape(spec)} has {dims.Count} dimension{(dims.Count == 1 ? "" : "s")}; use 0..{dims.Count - 1}, or set BatchAxes[\"{spec.Name}\"] = -1 if it has no batch axis");
            return -1;
        }

        if (dims[requested] >= 0)
        {
            errors.Add($"ModelOptions.{option} is {requested}, but dimension {requested} of {kind} '{spec.Name}' {Shape(spec)} is fixed at {dims[requested].ToString(CultureInfo.InvariantCulture)}; only a free dimension can be a batch axis (set BatchAxes[\"{spec.Name}\"] to a free dimension, or -1)");
            return -1;
        }

        return requested;
    }

    private static int Automatic(TensorSpec spec, HashSet<string> batchSymbols)
    {
        var dims = spec.Dimensions;
        if (dims.Count == 0)
        {
            return -1;
        }

        if (dims[0] < 0)
        {
            return 0;
        }

        var found = -1;
        for (var i = 1; i < dims.Count; i++)
        {
            if (dims[i] < 0 && i < spec.SymbolicDimensions.Count && batchSymbols.Contains(spec.SymbolicDimensions[i]))
            {
                if (found >= 0)
                {
                    return -1; // Ambiguous: the user says which.
                }

                found = i;
            }
        }

        return found;
    }

    private static int FirstFree(TensorSpec spec)
    {
        for (var i = 0; i < spec.Dimensions.Count; i++)
        {
            if (spec.Dimensions[i] < 0)
            {
                return i;
            }
        }

        return -1;
    }

    private static BatchBucketKind BucketOf(TensorSpec spec, int axis)
    {
        if (axis < 0)
        {
            return BatchBucketKind.Value;
        }

        var free = 0;
        for (var i = 0; i < spec.Dimensions.Count; i++)
        {
            if (i != axis && spec.Dimensions[i] < 0)
            {
                free++;
            }
        }

        return free switch
        {
            0 => BatchBucketKind.None,
            1 => BatchBucketKind.Length,
            _ => BatchBucketKind.Shape,
        };
    }

    private static string Shape(TensorSpec spec) => TensorSpec.DescribeShape(spec.Dimensions, spec.SymbolicDimensions);

    private static string Why(TensorSpec spec, string kind)
    {
        var dims = spec.Dimensions;
        var what = dims.Count == 0
            ? $"{kind} '{spec.Name}' is a scalar"
            : $"{kind} '{spec.Name}' {Shape(spec)} has a fixed first dimension ({dims[0].ToString(CultureInfo.InvariantCulture)})";
        return what + $"; set ModelOptions.BatchAxes[\"{spec.Name}\"] = k if its free dimension k holds the rows";
    }
}
