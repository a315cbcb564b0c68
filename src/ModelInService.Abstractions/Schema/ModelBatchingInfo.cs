using System.Globalization;
using System.Text;

namespace ModelInService;

/// <summary>How the rows of one input are grouped so that only rows that can share a tensor run together.</summary>
public enum BatchBucketKind
{
    /// <summary>Every row has the same shape: any rows can share a run.</summary>
    None,

    /// <summary>A row has one free dimension (e.g. a text length): rows of one length share a run.</summary>
    Length,

    /// <summary>A row has several free dimensions (e.g. an image's height and width): rows of one shape share a run.</summary>
    Shape,

    /// <summary>
    /// The input has no batch axis, so one value serves the whole run (e.g. a sample rate): only rows carrying equal
    /// values share a run.
    /// </summary>
    Value,
}

/// <summary>The batch axis the library uses for one model input or output.</summary>
/// <param name="Name">The input or output name.</param>
/// <param name="IsInput">Whether it is an input (otherwise an output).</param>
/// <param name="Shape">The declared shape, as in <see cref="TensorSpec.ToString"/>.</param>
/// <param name="Axis">The batch axis, or -1 when the tensor has none.</param>
/// <param name="Bucket">For inputs, how rows are grouped; <see cref="BatchBucketKind.None"/> for outputs.</param>
public sealed record TensorBatchAxis(string Name, bool IsInput, string Shape, int Axis, BatchBucketKind Bucket)
{
    /// <summary>Gets a one-line description such as <c>input 'x' float32 [unk__6,100]: batch axis 0</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        var axis = Axis < 0 ? "no batch axis" : "batch axis " + Axis.ToString(CultureInfo.InvariantCulture);
        var bucket = Bucket switch
        {
            BatchBucketKind.Length => ", bucket by length",
            BatchBucketKind.Shape => ", bucket by shape",
            BatchBucketKind.Value => ", one value per run (bucket by value)",
            _ => "",
        };
        return $"{(IsInput ? "input" : "output")} '{Name}' {Shape}: {axis}{bucket}";
    }
}

/// <summary>
/// What the library decided about running several rows of a model in one ONNX Runtime call: whether it can, why not
/// when it cannot (naming the tensor and dimension), the batch axis of every tensor, and how rows are bucketed.
/// Available from <see cref="ModelSignature.Batching"/> once the model is loaded, and written in the start-up log.
/// </summary>
/// <param name="Batchable">Whether several rows may share a run (<c>UseBatching</c> and <c>PredictBatchAsync</c> form batches).</param>
/// <param name="Reason">Why the model is not batchable, or <see langword="null"/> when it is.</param>
/// <param name="Tensors">The batch axis of every input and (bound) output, inputs first.</param>
public sealed record ModelBatchingInfo(bool Batchable, string? Reason, IReadOnlyList<TensorBatchAxis> Tensors)
{
    /// <summary>Gets a one-line description: <c>batchable; input 'x' ...: batch axis 0; output 'y' ...: batch axis 0</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder(Batchable ? "batchable" : "not batchable (" + Reason + ")");
        foreach (var tensor in Tensors)
        {
            sb.Append("; ").Append(tensor);
        }

        return sb.ToString();
    }

    /// <summary>Gets the entry for an input or output by name, or <see langword="null"/>.</summary>
    /// <param name="name">The tensor name (ordinal comparison).</param>
    /// <param name="isInput">Whether to look among inputs (otherwise outputs).</param>
    /// <returns>The entry, or <see langword="null"/> when there is none.</returns>
    public TensorBatchAxis? Find(string name, bool isInput = true)
    {
        foreach (var tensor in Tensors)
        {
            if (tensor.IsInput == isInput && string.Equals(tensor.Name, name, StringComparison.Ordinal))
            {
                return tensor;
            }
        }

        return null;
    }
}
