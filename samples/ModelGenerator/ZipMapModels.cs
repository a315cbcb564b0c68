using Google.Protobuf;
using static ModelInService.ModelGenerator.GraphBuilder;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelInService.ModelGenerator;

/// <summary>
/// Small sklearn-onnx-style classifiers built in memory for the tests of the library's ZipMap removal (not committed
/// files): <c>x</c> f32 [batch,C] → Softmax → <c>label</c> (ArgMax) and a ZipMap <c>output_probability</c> over the
/// given class labels, in the given (possibly unsorted) order.
/// </summary>
public static class ZipMapModels
{
    /// <summary>A ZipMap over int64 labels.</summary>
    /// <param name="labels">One label per class, in the tensor's column order.</param>
    /// <param name="alsoOutputTensor">Also expose the probability tensor as a graph output (the library then keeps the ZipMap).</param>
    /// <returns>The model's bytes.</returns>
    public static byte[] Int64Labels(long[] labels, bool alsoOutputTensor = false)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return Build(labels.Length, Ints("classlabels_int64s", labels), SequenceOfMapInt64ToFloat(), alsoOutputTensor);
    }

    /// <summary>A ZipMap over string labels.</summary>
    /// <param name="labels">One label per class, in the tensor's column order.</param>
    /// <returns>The model's bytes.</returns>
    public static byte[] StringLabels(string[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return Build(labels.Length, Strings("classlabels_strings", labels), SequenceOfMapStringToFloat(), alsoOutputTensor: false);
    }

    private static byte[] Build(int classes, Onnx.AttributeProto labels, Onnx.TypeProto mapType, bool alsoOutputTensor)
    {
        var g = new GraphBuilder("zipmap_classifier");
        var x = g.Input("x", DataType.Float, "batch", classes);
        var probabilities = g.Node("Softmax", [x], "probability_tensor", Int("axis", 1));
        g.Node("ArgMax", [probabilities], "label", Int("axis", 1), Int("keepdims", 0));
        g.MlNode("ZipMap", [probabilities], "output_probability", labels);
        g.Output("label", DataType.Int64, "batch");
        g.Output("output_probability", mapType);
        if (alsoOutputTensor)
        {
            g.Output("probability_tensor", DataType.Float, "batch", classes);
        }

        return g.ToModel("ZipMap test classifier").ToByteArray();
    }
}
