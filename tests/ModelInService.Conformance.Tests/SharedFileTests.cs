using ModelInService.TestUtilities;
using Xunit;
using Xunit.Abstractions;

namespace ModelInService.Conformance.Tests;

/// <summary>The readers against the real third-party files in ../shared/models (skipped when the folder is absent).</summary>
public sealed class SharedFileTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Every_node_test_pb_parses_with_a_consistent_element_count()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var files = Directory.EnumerateFiles(SharedData.Model("node"), "*.pb", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(Path.GetDirectoryName(f)) == "test_data_set_0")
            .Order(StringComparer.Ordinal)
            .ToArray();

        Assert.True(files.Length >= 70, $"expected the ~75 node test tensors, found {files.Length}");
        foreach (var file in files)
        {
            var tensor = TensorProtoReader.Read(file);
            Assert.Equal(TestTensor.ElementCountOf(tensor.Dims), tensor.Data.Length);
            output.WriteLine($"{Path.GetRelativePath(SharedData.ModelsDir, file)}  {tensor}");
        }
    }

    [SkippableFact]
    public void Node_test_values_match_known_contents()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        string Node(string test, string file) => SharedData.Model("node", test, "test_data_set_0", file);

        var argmaxIn = TensorProtoReader.Read(Node("test_argmax_default_axis_example", "input_0.pb"));
        Assert.Equal("data: float32[2,2]", argmaxIn.ToString());
        Assert.Equal([2f, 2f, 3f, 10f], argmaxIn.As<float>());
        Assert.Equal([1L, 1L], TensorProtoReader.Read(Node("test_argmax_default_axis_example", "output_0.pb")).As<long>());

        // Expected values below were read independently with the onnx Python package (numpy_helper.to_array).
        var strings = TensorProtoReader.Read(Node("test_ai_onnx_ml_label_encoder_string_int", "input_0.pb"));
        Assert.Equal("X: string[5]", strings.ToString());
        Assert.Equal(["a", "b", "d", "c", "g"], strings.As<string>());
        Assert.Equal([0L, 1L, 42L, 2L, 42L], TensorProtoReader.Read(Node("test_ai_onnx_ml_label_encoder_string_int", "output_0.pb")).As<long>());

        Assert.Equal(["abc.com", "def.net"], TensorProtoReader.Read(Node("test_string_concat", "output_0.pb")).As<string>());

        var quantized = TensorProtoReader.Read(Node("test_qlinearmatmul_2D_uint8_float32", "output_0.pb"));
        Assert.Equal("y: uint8[2,3]", quantized.ToString());
        Assert.Equal(new byte[] { 168, 115, 255, 1, 66, 151 }, quantized.As<byte>());

        var doubles = TensorProtoReader.Read(Node("test_einsum_batch_matmul", "input_0.pb"));
        Assert.Equal("x: float64[5,2,3]", doubles.ToString());

        var unnamed = TensorProtoReader.Read(SharedData.Model("node", "pytorch-converted", "test_Embedding", "test_data_set_0", "input_0.pb"));
        Assert.Equal(string.Empty, unnamed.Name);
        Assert.Equal(OnnxDataType.Int64, unnamed.ElementType);
    }

    [SkippableFact]
    public void Vision_reference_outputs_parse_as_1000_floats()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var files = Directory.GetFiles(SharedData.Model("vision"), "output_0.pb", SearchOption.AllDirectories);

        Assert.Equal(5, files.Length);
        foreach (var file in files)
        {
            var tensor = TensorProtoReader.Read(file);
            Assert.Equal(OnnxDataType.Float, tensor.ElementType);
            Assert.Equal(1000, tensor.Data.Length);
            Assert.Equal(TestTensor.ElementCountOf(tensor.Dims), tensor.Data.Length);
            Assert.All(tensor.As<float>(), v => Assert.True(float.IsFinite(v)));
            output.WriteLine($"{Path.GetRelativePath(SharedData.ModelsDir, file)}  {tensor}");
        }
    }

    [SkippableFact]
    public void Xgboost_io_npz_holds_input_and_probabilities()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var arrays = NpzReader.Read(SharedData.Model("tabular", "tract_xgboost_classifier_tree", "io.npz"));

        Assert.Equal(["input", "probabilities"], arrays.Keys);
        Assert.Equal("input: float32[1,13]", arrays["input"].ToString());
        Assert.Equal("probabilities: float32[1,3]", arrays["probabilities"].ToString());
        Assert.Equal(14.23f, arrays["input"].As<float>()[0]);
        Assert.Equal(1065f, arrays["input"].As<float>()[12]);
        Assert.Equal(1f, arrays["probabilities"].As<float>().Sum(), 5);
    }

    [SkippableFact]
    public void Nnsplit_io_npz_holds_bytes_and_scores()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var arrays = NpzReader.Read(SharedData.Model("text", "nnsplit_byte_sb_bidi_lstm", "io.npz"));

        Assert.Equal(["input", "Add_26"], arrays.Keys);
        Assert.Equal("input: uint8[2,58]", arrays["input"].ToString());
        Assert.Equal("Add_26: float32[2,58,2]", arrays["Add_26"].ToString());
        var text = System.Text.Encoding.ASCII.GetString(arrays["input"].As<byte>()).Replace("\0", "|", StringComparison.Ordinal);
        Assert.StartsWith("|||||Das ist ein Test. Das ist noch ein Test.", text, StringComparison.Ordinal);
        Assert.Equal(-3.0324588f, arrays["Add_26"].As<float>()[0], 6);
    }

    [SkippableFact]
    public void Model_signatures_read_from_the_files_match_the_shared_readme()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);

        var mnist = OnnxModelInfo.Read(SharedData.Model("mnist", "mnist-8.onnx"));
        Assert.Equal("Input3: float32[1,1,28,28]", Assert.Single(mnist.Inputs).ToString());
        Assert.Equal("Plus214_Output_0: float32[1,10]", Assert.Single(mnist.Outputs).ToString());

        var forest = OnnxModelInfo.Read(SharedData.Model("tabular", "yalue_sklearn_randomforest_iris", "model.onnx"));
        Assert.Equal("X: float32[?,4]", Assert.Single(forest.Inputs).ToString().Replace("N", "?", StringComparison.Ordinal));
        Assert.Equal("seq(map(int64,float32))", forest.Output("output_probability").Type);
        Assert.Equal("sequence", forest.Output("output_probability").Kind);

        var nnsplit = OnnxModelInfo.Read(SharedData.Model("text", "nnsplit_byte_sb_bidi_lstm", "model.onnx"));
        Assert.Equal(OnnxDataType.UInt8, Assert.Single(nnsplit.Inputs).ElementType);
        Assert.Equal(3, Assert.Single(nnsplit.Outputs).Shape!.Count);

        foreach (var path in Directory.EnumerateFiles(SharedData.ModelsDir, "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var info = OnnxModelInfo.Read(path);
            output.WriteLine($"{Path.GetRelativePath(SharedData.ModelsDir, path)}: ir {info.IrVersion}, " +
                $"in [{string.Join("; ", info.Inputs)}] out [{string.Join("; ", info.Outputs)}]");
        }
    }

    [SkippableFact]
    public void Tabular_reference_json_files_parse()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);

        var lightgbm = ReferenceJson.ReadTabularCases(SharedData.Model("tabular", "ankane_lightgbm_iris", "reference.json"));
        Assert.Equal(5, lightgbm.Count);
        Assert.Equal("input: float32[1,2]", lightgbm[0].Inputs["input"].ToString());
        Assert.Equal([1L], lightgbm[0].ExpectedLabels["label"]);
        Assert.Equal(0.409047931432724f, lightgbm[0].ExpectedProbabilities["probabilities"][0][1]);
        Assert.Empty(lightgbm[1].ExpectedProbabilities);

        var forest = Assert.Single(ReferenceJson.ReadTabularCases(SharedData.Model("tabular", "yalue_sklearn_randomforest_iris", "reference.json")));
        Assert.Equal("X: float32[6,4]", forest.Inputs["X"].ToString());
        Assert.Equal([2L, 1L, 1L, 2L, 2L, 1L], forest.ExpectedLabels["output_label"]);
        Assert.Equal(6, forest.ExpectedProbabilities["output_probability"].Count);

        var gpt2 = ReferenceJson.ReadGreedySearch(SharedData.Model("text", "tiny_random_gpt2_fp32", "reference.json"));
        Assert.Equal(10, gpt2.MaxLength);
        Assert.Equal([0L, 0L, 195L, 731L], gpt2.InputIds[1]);
        Assert.Equal(10, gpt2.ExpectedSequences[0].Length);
    }
}
