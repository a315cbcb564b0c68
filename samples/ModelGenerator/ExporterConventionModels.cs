using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static ModelInService.ModelGenerator.GraphBuilder;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelInService.ModelGenerator;

/// <summary>
/// Small models that reproduce how exporters declare batch dimensions (tf2onnx, paddle2onnx, torch.onnx dynamic_axes,
/// skl2onnx) and layouts the library must batch correctly or refuse: a batch on axis 1, a per-run scalar input, two
/// free dimensions per row, outputs whose first dimension is not the batch. Elementwise arithmetic only, so every
/// output is easy to check.
/// </summary>
internal static class ExporterConventionModels
{
    /// <summary>File names, in generation order.</summary>
    public static IReadOnlyList<string> FileNames { get; } =
    [
        "conv_tf2onnx.onnx",
        "conv_paddle2onnx.onnx",
        "conv_torch_dynamic_axes.onnx",
        "conv_skl2onnx.onnx",
        "conv_batch_axis1.onnx",
        "conv_per_run_scalar.onnx",
        "conv_two_free_dims.onnx",
        "conv_output_not_batch.onnx",
        "conv_output_flattened.onnx",
    ];

    /// <summary>An unknown dimension: neither a value nor a name (what skl2onnx writes for <c>None</c>).</summary>
    private static TensorShapeProto.Types.Dimension Unknown => new();

    /// <summary>tf2onnx: a different <c>unk__N</c> per tensor. y = 2x + 1, x float [unk__6,4] -> y float [unk__7,4].</summary>
    public static byte[] Tf2Onnx() => Affine("conv_tf2onnx", "input", "output", "unk__6", "unk__7", "tf2onnx (Keras) naming: a different unk__N symbol on every tensor.");

    /// <summary>paddle2onnx: <c>p2o.DynamicDimension.N</c>. y = 2x + 1.</summary>
    public static byte[] Paddle2Onnx() => Affine("conv_paddle2onnx", "x", "save_infer_model/scale_0.tmp_0", "p2o.DynamicDimension.0", "p2o.DynamicDimension.1", "paddle2onnx naming: p2o.DynamicDimension.N symbols.");

    /// <summary>torch.onnx.export with dynamic_axes={'input': {0: 'batch_size'}, 'output': {0: 'batch_size'}}. y = 2x + 1.</summary>
    public static byte[] TorchDynamicAxes() => Affine("conv_torch_dynamic_axes", "input", "output", "batch_size", "batch_size", "torch.onnx dynamic_axes naming: batch_size on input and output.");

    /// <summary>skl2onnx: the batch dimension is declared with neither a value nor a name. y = 2x + 1.</summary>
    public static byte[] Skl2Onnx()
    {
        var bytes = Affine("conv_skl2onnx", "float_input", "variable", "@unknown", "@unknown", "skl2onnx naming: the batch dimension (None in Python) has neither a value nor a name.");
        var model = ModelProto.Parser.ParseFrom(bytes);
        foreach (var value in model.Graph.Input.Concat(model.Graph.Output))
        {
            value.Type.TensorType.Shape.Dim[0] = Unknown;
        }

        return model.ToByteArray();
    }

    /// <summary>
    /// Batch on axis 1 (a recurrent state): x float [N,4] -> y = x + 1 [N,4]; state float [2,unk__1,3] -> state_out =
    /// 2 * state [2,unk__2,3]. The state's symbols differ from N, so its batch axis must be declared.
    /// </summary>
    public static byte[] BatchAxis1()
    {
        var g = new GraphBuilder("conv_batch_axis1");
        var x = g.Input("x", DataType.Float, "N", 4);
        var state = g.Input("state", DataType.Float, 2, "unk__1", 3);
        g.Node("Add", [x, g.Initializer("one", [1f], [])], "y");
        g.Node("Mul", [state, g.Initializer("two", [2f], [])], "state_out");
        g.Output("y", DataType.Float, "N", 4);
        g.Output("state_out", DataType.Float, 2, "unk__2", 3);
        return g.ToModel("Batch on axis 1: y = x + 1; state_out = 2 * state (state [2,batch,3]).").ToByteArray();
    }

    /// <summary>A per-run scalar input (Silero's sample rate): x float [N,3], sr int64 [] -> y = x * sr [N,3].</summary>
    public static byte[] PerRunScalar()
    {
        var g = new GraphBuilder("conv_per_run_scalar");
        var x = g.Input("x", DataType.Float, "N", 3);
        var sr = g.Input("sr", DataType.Int64);
        var factor = g.Node("Cast", [sr], "sr_float", Int("to", (long)DataType.Float));
        g.Node("Mul", [x, factor], "y");
        g.Output("y", DataType.Float, "N", 3);
        return g.ToModel("A per-run scalar input: y = x * sr (sr an int64 scalar, one value for the whole run).").ToByteArray();
    }

    /// <summary>Two free dimensions per row: x float [N,2,H,W] -> y = ReduceSum over axis 1, keepdims [N,1,H,W].</summary>
    public static byte[] TwoFreeDims()
    {
        var g = new GraphBuilder("conv_two_free_dims");
        var x = g.Input("x", DataType.Float, "p2o.DynamicDimension.0", 2, "p2o.DynamicDimension.1", "p2o.DynamicDimension.2");
        g.Node("ReduceSum", [x, g.Initializer("axes", [1L], 1)], "y", Int("keepdims", 1));
        g.Output("y", DataType.Float, "p2o.DynamicDimension.3", 1, "p2o.DynamicDimension.4", "p2o.DynamicDimension.5");
        return g.ToModel("Two free dimensions per row: y[n,0,h,w] = x[n,0,h,w] + x[n,1,h,w].").ToByteArray();
    }

    /// <summary>
    /// An output with a fixed first dimension that is not the batch: x float [N,3] -> y = x + 1 [N,3] and totals =
    /// column sums over the whole run [3].
    /// </summary>
    public static byte[] OutputNotBatch()
    {
        var g = new GraphBuilder("conv_output_not_batch");
        var x = g.Input("x", DataType.Float, "N", 3);
        g.Node("Add", [x, g.Initializer("one", [1f], [])], "y");
        g.Node("ReduceSum", [x, g.Initializer("axes", [0L], 1)], "totals", Int("keepdims", 0));
        g.Output("y", DataType.Float, "N", 3);
        g.Output("totals", DataType.Float, 3);
        return g.ToModel("An output that is not per row: y = x + 1; totals = column sums over the run [3].").ToByteArray();
    }

    /// <summary>
    /// An output whose free first dimension is N*2, not the batch: x float [N,2] -> flat = Reshape(x, [-1]) [unk__1].
    /// </summary>
    public static byte[] OutputFlattened()
    {
        var g = new GraphBuilder("conv_output_flattened");
        var x = g.Input("x", DataType.Float, "unk__0", 2);
        g.Node("Reshape", [x, g.Initializer("minus_one", [-1L], 1)], "flat");
        g.Output("flat", DataType.Float, "unk__1");
        return g.ToModel("An output whose free first dimension is N*2: flat = x flattened.").ToByteArray();
    }

    private static byte[] Affine(string name, string input, string output, string inputBatch, string outputBatch, string doc)
    {
        var g = new GraphBuilder(name);
        var x = g.Input(input, DataType.Float, inputBatch, 4);
        var doubled = g.Node("Mul", [x, g.Initializer("two", [2f], [])], "doubled");
        g.Node("Add", [doubled, g.Initializer("one", [1f], [])], output);
        g.Output(output, DataType.Float, outputBatch, 4);
        return g.ToModel(doc + " y = 2x + 1.").ToByteArray();
    }

    /// <summary>Builds and verifies every model with ONNX Runtime (3 rows, values 0.5 * k).</summary>
    public static IEnumerable<(string FileName, byte[] Bytes)> BuildAll()
    {
        var builders = new Func<byte[]>[] { Tf2Onnx, Paddle2Onnx, TorchDynamicAxes, Skl2Onnx, BatchAxis1, PerRunScalar, TwoFreeDims, OutputNotBatch, OutputFlattened };
        for (var i = 0; i < builders.Length; i++)
        {
            var bytes = builders[i]();
            Verify(FileNames[i], bytes);
            yield return (FileNames[i], bytes);
        }
    }

    private static void Verify(string fileName, byte[] bytes)
    {
        using var session = new InferenceSession(bytes);
        var feeds = new Dictionary<string, OrtValue>();
        try
        {
            foreach (var (name, meta) in session.InputMetadata)
            {
                var shape = meta.Dimensions.Select(d => d < 0 ? 3L : d).ToArray();
                if (meta.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64)
                {
                    feeds[name] = OrtValue.CreateTensorValueFromMemory(new long[] { 3 }, shape);
                    continue;
                }

                var count = (int)shape.Aggregate(1L, (a, b) => a * b);
                feeds[name] = OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, count).Select(k => 0.5f * k).ToArray(), shape);
            }

            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, feeds.Keys.ToArray(), feeds.Values.ToArray(), session.OutputNames.ToArray());
            var first = results[0];
            var values = first.GetTensorDataAsSpan<float>();
            var x = feeds.First().Value.GetTensorDataAsSpan<float>();
            var ok = fileName switch
            {
                "conv_batch_axis1.onnx" => values.Length == 12 && values[5] == x[5] + 1f,
                "conv_per_run_scalar.onnx" => values.Length == 9 && values[5] == x[5] * 3f,
                "conv_two_free_dims.onnx" => values.Length == 27 && values[0] == x[0] + x[9] && values[26] == x[44] + x[53],
                "conv_output_not_batch.onnx" => values.Length == 9 && values[4] == x[4] + 1f
                    && results[1].GetTensorDataAsSpan<float>()[1] == x[1] + x[4] + x[7],
                "conv_output_flattened.onnx" => values.Length == 6 && values[5] == x[5],
                _ => values.Length == 12 && values[7] == (2f * x[7]) + 1f,
            };
            if (!ok)
            {
                throw new ModelVerificationException($"ONNX Runtime check failed: {fileName}");
            }
        }
        finally
        {
            foreach (var value in feeds.Values)
            {
                value.Dispose();
            }
        }
    }
}
