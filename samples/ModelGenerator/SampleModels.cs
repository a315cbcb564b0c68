using Google.Protobuf;
using Onnx;
using static ModelInService.ModelGenerator.GraphBuilder;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelInService.ModelGenerator;

/// <summary>
/// The repo's own sample models, one method each. samples/models/README.md documents every signature; keep the two in
/// step (other code depends on these names and shapes).
/// </summary>
internal static class SampleModels
{
    private const string Batch = "batch";

    private static readonly (string, string)[] IrisMetadata =
    [
        ("feature_names", string.Join(",", IrisDataset.FeatureNames)),
        ("class_names", string.Join(",", IrisDataset.ClassNames)),
    ];

    /// <summary>iris_mlp.onnx: features f32 [batch,4] (cm) -> label i64 [batch], probabilities f32 [batch,3].</summary>
    public static byte[] IrisMlp(IrisNetwork network)
    {
        var g = new GraphBuilder("iris_mlp");
        var features = g.Input("features", DataType.Float, Batch, 4);
        var probabilities = IrisNetworkBody(g, network, features, "probabilities");
        g.Node("ArgMax", [probabilities], "label", Int("axis", 1), Int("keepdims", 0));
        g.Output("label", DataType.Int64, Batch);
        g.Output("probabilities", DataType.Float, Batch, 3);
        return Serialize(g.ToModel(IrisDoc("label is the argmax of probabilities"), IrisMetadata));
    }

    /// <summary>iris_mlp_zipmap.onnx: sklearn-onnx style, float_input f32 [batch,4] -> output_label, output_probability.</summary>
    public static byte[] IrisMlpZipMap(IrisNetwork network)
    {
        var g = new GraphBuilder("iris_mlp_zipmap");
        var features = g.Input("float_input", DataType.Float, Batch, 4);
        var probabilities = IrisNetworkBody(g, network, features, "probability_tensor");
        g.Node("ArgMax", [probabilities], "output_label", Int("axis", 1), Int("keepdims", 0));
        g.MlNode("ZipMap", [probabilities], "output_probability", Ints("classlabels_int64s", 0, 1, 2));
        g.Output("output_label", DataType.Int64, Batch);
        g.Output("output_probability", SequenceOfMapInt64ToFloat());
        return Serialize(g.ToModel(
            IrisDoc("output_probability is one map {class: probability} per row (ai.onnx.ml ZipMap)"),
            IrisMetadata));
    }

    /// <summary>iris_mlp_fixed.onnx: the same network with a fixed batch of one.</summary>
    public static byte[] IrisMlpFixed(IrisNetwork network)
    {
        var g = new GraphBuilder("iris_mlp_fixed");
        var features = g.Input("features", DataType.Float, 1, 4);
        var probabilities = IrisNetworkBody(g, network, features, "probabilities");
        g.Node("ArgMax", [probabilities], "label", Int("axis", 1), Int("keepdims", 0));
        g.Output("label", DataType.Int64, 1);
        g.Output("probabilities", DataType.Float, 1, 3);
        return Serialize(g.ToModel(IrisDoc("fixed batch of one row"), IrisMetadata));
    }

    /// <summary>
    /// (features - mean) / std -> MatMul+Add -> Relu -> MatMul+Add -> Softmax(axis 1). Returns the probabilities name.
    /// </summary>
    private static string IrisNetworkBody(GraphBuilder g, IrisNetwork network, string features, string probabilities)
    {
        var hidden = network.Hidden;
        var centred = g.Node("Sub", [features, g.Initializer("mean", network.Mean, 4)], "centred");
        var standardised = g.Node("Div", [centred, g.Initializer("std", network.Std, 4)], "standardised");
        var h = g.Node("MatMul", [standardised, g.Initializer("W1", network.W1, 4, hidden)], "hidden_matmul");
        h = g.Node("Add", [h, g.Initializer("B1", network.B1, hidden)], "hidden_preactivation");
        h = g.Node("Relu", [h], "hidden");
        var logits = g.Node("MatMul", [h, g.Initializer("W2", network.W2, hidden, 3)], "logits_matmul");
        logits = g.Node("Add", [logits, g.Initializer("B2", network.B2, 3)], "logits");
        return g.Node("Softmax", [logits], probabilities, Int("axis", 1));
    }

    private static string IrisDoc(string detail) =>
        "MLP (4-16-3, ReLU) trained on Fisher's Iris data by samples/ModelGenerator. Input: sepal_length, sepal_width, " +
        "petal_length, petal_width in cm (standardised inside the graph). Classes: 0 setosa, 1 versicolor, 2 virginica; " +
        detail + ".";

    /// <summary>
    /// multi_input.onnx: one input and one output of each element type (float, double, int32, int64, uint8, bool,
    /// string), each output an exactly checkable function of the inputs.
    /// </summary>
    public static byte[] MultiInput()
    {
        var g = new GraphBuilder("multi_input");
        var f32 = g.Input("f32", DataType.Float, Batch, 3);
        var f64 = g.Input("f64", DataType.Double, Batch, 2);
        var i32 = g.Input("i32", DataType.Int32, Batch, 1);
        var i64 = g.Input("i64", DataType.Int64, Batch, 2);
        var u8 = g.Input("u8", DataType.Uint8, Batch, 4);
        var flag = g.Input("flag", DataType.Bool, Batch, 1);
        var text = g.Input("text", DataType.String, Batch, 1);
        var axis1 = g.Initializer("axis_1", [1L], 1);

        // f32_sum = rowsum(float(f32)) + rowsum(float(f64)) + float(i32) + rowsum(float(i64)) + rowsum(float(u8)),
        // added left to right in float32.
        string RowSumAsFloat(string input)
        {
            var asFloat = g.Node("Cast", [input], input + "_as_float", Int("to", (long)DataType.Float));
            return g.Node("ReduceSum", [asFloat, axis1], input + "_row_sum", Int("keepdims", 1));
        }

        var sum = g.Node("Add", [RowSumAsFloat(f32), RowSumAsFloat(f64)], "sum_f32_f64");
        sum = g.Node("Add", [sum, RowSumAsFloat(i32)], "sum_f32_f64_i32");
        sum = g.Node("Add", [sum, RowSumAsFloat(i64)], "sum_f32_f64_i32_i64");
        g.Node("Add", [sum, RowSumAsFloat(u8)], "f32_sum");

        g.Node("Mul", [f64, g.Initializer("two", [2.0], [])], "f64_out");
        g.Node("Add", [i32, g.Initializer("one", [1], [])], "i32_out");
        g.Node("ReduceSum", [i64, axis1], "i64_out", Int("keepdims", 0));

        // 255 - u8, computed in int32 and cast back (no uint8 arithmetic kernel needed); the result is always in 0..255.
        var u8AsInt = g.Node("Cast", [u8], "u8_as_int32", Int("to", (long)DataType.Int32));
        var inverted = g.Node("Sub", [g.Initializer("u8_max", [255], []), u8AsInt], "u8_inverted_int32");
        g.Node("Cast", [inverted], "u8_out", Int("to", (long)DataType.Uint8));

        g.Node("Not", [flag], "flag_out");
        g.Node("Identity", [text], "text_out");

        g.Output("f32_sum", DataType.Float, Batch, 1);
        g.Output("f64_out", DataType.Double, Batch, 2);
        g.Output("i32_out", DataType.Int32, Batch, 1);
        g.Output("i64_out", DataType.Int64, Batch);
        g.Output("u8_out", DataType.Uint8, Batch, 4);
        g.Output("flag_out", DataType.Bool, Batch, 1);
        g.Output("text_out", DataType.String, Batch, 1);
        return Serialize(g.ToModel(
            "One input and one output per element type. f32_sum = sum of every element of f32, f64, i32, i64 and u8 in " +
            "the row, each cast to float; f64_out = 2*f64; i32_out = i32+1; i64_out = row sum of i64; u8_out = 255-u8; " +
            "flag_out = not flag; text_out = text."));
    }

    /// <summary>
    /// variable_length.onnx: bytes u8 [batch,length] -> scores f32 [batch,length,2] with scores[b,t,0] = x/255 and
    /// scores[b,t,1] = 1 - x/255 (the shape of the nnsplit text model).
    /// </summary>
    public static byte[] VariableLength()
    {
        var g = new GraphBuilder("variable_length");
        var bytes = g.Input("bytes", DataType.Uint8, Batch, "length");
        var asFloat = g.Node("Cast", [bytes], "bytes_as_float", Int("to", (long)DataType.Float));
        var scaled = g.Node("Div", [asFloat, g.Initializer("max_byte", [255f], [])], "scaled");
        var first = g.Node("Unsqueeze", [scaled, g.Initializer("axis_2", [2L], 1)], "score_0");
        var second = g.Node("Sub", [g.Initializer("one", [1f], []), first], "score_1");
        g.Node("Concat", [first, second], "scores", Int("axis", 2));
        g.Output("scores", DataType.Float, Batch, "length", 2);
        return Serialize(g.ToModel(
            "Variable-length byte sequences: scores[b,t,0] = bytes[b,t]/255, scores[b,t,1] = 1 - bytes[b,t]/255 " +
            "(float32 arithmetic)."));
    }

    /// <summary>Rows r of the 28x28 image with r % 10 == j feed logit j (rows j, j+10 and, for j &lt; 8, j+20).</summary>
    public static int ImageRowsPerClass(int j) => j < 8 ? 3 : 2;

    /// <summary>
    /// image_like.onnx: image f32 [batch,1,28,28] -> logits f32 [batch,10] = Flatten -> MatMul W -> Add b, with
    /// W[p, j] = 1 / (28 * rows(j)) when (p / 28) % 10 == j, else 0, and b[j] = j / 100. So logits[j] is the mean
    /// pixel value of the image rows j, j+10, j+20 (those below 28) plus j/100.
    /// </summary>
    public static byte[] ImageLike()
    {
        const int side = 28, classes = 10, pixels = side * side;
        var weights = new float[pixels * classes];
        for (var p = 0; p < pixels; p++)
        {
            var j = p / side % classes;
            weights[(p * classes) + j] = 1f / (side * ImageRowsPerClass(j));
        }

        var bias = new float[classes];
        for (var j = 0; j < classes; j++)
        {
            bias[j] = j / 100f;
        }

        var g = new GraphBuilder("image_like");
        var image = g.Input("image", DataType.Float, Batch, 1, side, side);
        var flat = g.Node("Flatten", [image], "flat", Int("axis", 1));
        var product = g.Node("MatMul", [flat, g.Initializer("W", weights, pixels, classes)], "row_means");
        g.Node("Add", [product, g.Initializer("b", bias, classes)], "logits");
        g.Output("logits", DataType.Float, Batch, classes);
        return Serialize(g.ToModel(
            "MNIST-shaped toy: logits[j] = mean of the pixels in image rows r with r % 10 == j, plus j/100."));
    }

    private static byte[] Serialize(ModelProto model) => model.ToByteArray();
}
