using Microsoft.ML.OnnxRuntime;
using ModelInService.ModelGenerator;
using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// The repo's own models in samples/models: the committed bytes must be exactly what samples/ModelGenerator builds
/// (the same check as <c>dotnet run --project samples/ModelGenerator -- --check</c>), and their signatures and
/// documented examples must hold (samples/models/README.md).
/// </summary>
public sealed class SampleModelTests
{
    [Fact]
    public void Committed_models_match_the_generator_byte_for_byte()
    {
        var generated = ModelCatalog.BuildAll();

        Assert.Equal(ModelCatalog.FileNames, generated.Models.Select(m => m.FileName));
        var differences = ModelCatalog.Check(SharedData.RepoModelsDir, generated.Models);
        Assert.True(
            differences.Count == 0,
            "Regenerate with `dotnet run --project samples/ModelGenerator`: " +
            string.Join("; ", differences.Select(d => $"{d.FileName} {d.Reason}")));
        Assert.True(generated.IrisTrainingAccuracy >= 0.95);
    }

    [Fact]
    public void Generator_is_deterministic()
    {
        var first = ModelCatalog.BuildAll();
        var second = ModelCatalog.BuildAll();

        Assert.Equal(first.Models.Select(m => m.Bytes), second.Models.Select(m => m.Bytes));
    }

    [Fact]
    public void Check_reports_missing_and_changed_files()
    {
        var scratch = Directory.CreateTempSubdirectory("mis-models-");
        try
        {
            GeneratedModel[] models = [new("a.onnx", [1, 2, 3]), new("b.onnx", [4, 5]), new("c.onnx", [6])];
            File.WriteAllBytes(Path.Combine(scratch.FullName, "a.onnx"), [1, 2, 3]);
            File.WriteAllBytes(Path.Combine(scratch.FullName, "b.onnx"), [4, 6]);

            var differences = ModelCatalog.Check(scratch.FullName, models);

            Assert.Equal(["b.onnx", "c.onnx"], differences.Select(d => d.FileName));
            Assert.Contains("first difference at byte 1", differences[0].Reason, StringComparison.Ordinal);
            Assert.Equal("missing", differences[1].Reason);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("iris_mlp.onnx", "features: float32[batch,4]", "label: int64[batch]|probabilities: float32[batch,3]")]
    [InlineData("iris_mlp_zipmap.onnx", "float_input: float32[batch,4]", "output_label: int64[batch]|output_probability: seq(map(int64,float32))")]
    [InlineData("iris_mlp_fixed.onnx", "features: float32[1,4]", "label: int64[1]|probabilities: float32[1,3]")]
    [InlineData(
        "multi_input.onnx",
        "f32: float32[batch,3]|f64: float64[batch,2]|i32: int32[batch,1]|i64: int64[batch,2]|u8: uint8[batch,4]|flag: bool[batch,1]|text: string[batch,1]",
        "f32_sum: float32[batch,1]|f64_out: float64[batch,2]|i32_out: int32[batch,1]|i64_out: int64[batch]|u8_out: uint8[batch,4]|flag_out: bool[batch,1]|text_out: string[batch,1]")]
    [InlineData("variable_length.onnx", "bytes: uint8[batch,length]", "scores: float32[batch,length,2]")]
    [InlineData("image_like.onnx", "image: float32[batch,1,28,28]", "logits: float32[batch,10]")]
    public void Signatures_are_as_documented(string file, string inputs, string outputs)
    {
        var info = OnnxModelInfo.Read(SharedData.RepoModel(file));

        Assert.Equal(inputs, string.Join("|", info.Inputs));
        Assert.Equal(outputs, string.Join("|", info.Outputs));
        Assert.Equal(8, info.IrVersion);
        Assert.Equal(17, info.Opsets["ai.onnx"]);
        Assert.Equal(file == "iris_mlp_zipmap.onnx" ? 2 : 1, info.Opsets.Count);
        Assert.Equal("ModelInService.ModelGenerator", info.ProducerName);
        if (file.StartsWith("iris", StringComparison.Ordinal))
        {
            Assert.Equal("sepal_length,sepal_width,petal_length,petal_width", info.Metadata["feature_names"]);
            Assert.Equal("setosa,versicolor,virginica", info.Metadata["class_names"]);
        }

        // The runtime agrees with the file.
        using var session = new InferenceSession(SharedData.RepoModel(file));
        Assert.Equal(info.Inputs.Select(i => i.Name), session.InputNames);
        Assert.Equal(info.Outputs.Select(o => o.Name), session.OutputNames);
    }

    [Fact]
    public void Iris_examples_from_the_readme()
    {
        using var session = new InferenceSession(SharedData.RepoModel("iris_mlp.onnx"));
        var features = new TestTensor("features", OnnxDataType.Float, [2, 4], new[] { 5.1f, 3.5f, 1.4f, 0.2f, 6.7f, 3.0f, 5.2f, 2.3f });

        var outputs = OrtTensors.Run(session, [features]);

        Assert.Equal([0L, 2L], outputs["label"].As<long>());
        var p = outputs["probabilities"].As<float>();
        Assert.Equal(1f, p[0] + p[1] + p[2], 5);
        Assert.True(p[0] > 0.9f && p[5] > 0.9f);
    }

    [Fact]
    public void Multi_input_example_from_the_readme()
    {
        using var session = new InferenceSession(SharedData.RepoModel("multi_input.onnx"));
        TestTensor[] inputs =
        [
            new("f32", OnnxDataType.Float, [1, 3], new[] { 1.5f, 2f, 3f }),
            new("f64", OnnxDataType.Double, [1, 2], new[] { 0.5, -2.0 }),
            new("i32", OnnxDataType.Int32, [1, 1], new[] { 7 }),
            new("i64", OnnxDataType.Int64, [1, 2], new[] { 100L, 20L }),
            new("u8", OnnxDataType.UInt8, [1, 4], new byte[] { 0, 1, 128, 255 }),
            new("flag", OnnxDataType.Bool, [1, 1], new[] { true }),
            new("text", OnnxDataType.String, [1, 1], new[] { "hello" }),
        ];

        var outputs = OrtTensors.Run(session, inputs);

        Assert.Equal([516f], outputs["f32_sum"].As<float>());
        Assert.Equal([1.0, -4.0], outputs["f64_out"].As<double>());
        Assert.Equal([8], outputs["i32_out"].As<int>());
        Assert.Equal([120L], outputs["i64_out"].As<long>());
        Assert.Equal([1L], outputs["i64_out"].Dims);
        Assert.Equal(new byte[] { 255, 254, 127, 0 }, outputs["u8_out"].As<byte>());
        Assert.Equal([false], outputs["flag_out"].As<bool>());
        Assert.Equal(["hello"], outputs["text_out"].As<string>());
    }

    [Fact]
    public void Variable_length_example_from_the_readme()
    {
        using var session = new InferenceSession(SharedData.RepoModel("variable_length.onnx"));
        var bytes = new TestTensor("bytes", OnnxDataType.UInt8, [1, 3], new byte[] { 0, 51, 255 });

        var scores = OrtTensors.Run(session, [bytes])["scores"];

        Assert.Equal([1L, 3L, 2L], scores.Dims);
        Assert.Equal([0f, 1f, 0.2f, 0.8f, 1f, 0f], scores.As<float>());
    }

    [Fact]
    public void Image_like_example_from_the_readme()
    {
        using var session = new InferenceSession(SharedData.RepoModel("image_like.onnx"));
        var pixels = new float[784];
        Array.Fill(pixels, 1f, 3 * 28, 28); // row 3 all ones

        var logits = OrtTensors.Run(session, [new TestTensor("image", OnnxDataType.Float, [1, 1, 28, 28], pixels)])["logits"].As<float>();

        for (var j = 0; j < 10; j++)
        {
            Assert.Equal((j == 3 ? 1 / 3f : 0f) + (j / 100f), logits[j], 5);
        }
    }
}
