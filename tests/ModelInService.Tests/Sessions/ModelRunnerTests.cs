using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tests.Sessions;

public class ModelRunnerTests
{
    private static async Task<IModelRunner> Runner(string path)
    {
        var sp = await TestModels.ProviderAsync(s => s.AddModel("m", o => o.Source = ModelSource.FromFile(path)));
        return sp.GetRequiredKeyedService<IModelRunner>("m");
    }

    [Fact]
    public async Task Signature_DescribesInputsOutputsAndMetadata()
    {
        var runner = await Runner(TestModels.IrisMlp);
        var signature = runner.Signature;

        var input = Assert.Single(signature.Inputs);
        Assert.Equal("features", input.Name);
        Assert.Equal(ModelElementType.Float32, input.ElementType);
        Assert.Equal([-1L, 4L], input.Dimensions);
        Assert.True(input.HasDynamicBatch);
        Assert.Equal("float32 [batch,4]", input.ToString());
        Assert.Equal(["label", "probabilities"], signature.Outputs.Select(o => o.Name));
        Assert.Equal("sepal_length,sepal_width,petal_length,petal_width", signature.Metadata["feature_names"]);
        Assert.Null(signature.FindInput("nope"));
    }

    [Fact]
    public async Task RunAsync_NamedTensors_MultipleTypes()
    {
        var runner = await Runner(TestModels.MultiInput);
        var outputs = await runner.RunAsync(
        [
            NamedTensor.Create("text", new[] { "a", "b" }, 2, 1),
            NamedTensor.Create("f32", new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3),
            NamedTensor.Create("f64", new double[] { 1, 2, 3, 4 }, 2, 2),
            NamedTensor.Create("i32", new[] { 1, 2 }, 2, 1),
            NamedTensor.Create("i64", new long[] { 1, 2, 3, 4 }, 2, 2),
            NamedTensor.Create("u8", new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, 4),
            NamedTensor.Create("flag", new[] { true, false }, 2, 1),
        ]);

        var byName = outputs.ToDictionary(o => o.Name);
        Assert.Equal([2L, 1L], byName["f32_sum"].Shape);
        Assert.Equal([6f + 3 + 1 + 3 + 10, 15f + 7 + 2 + 7 + 26], byName["f32_sum"].GetData<float>());
        Assert.Equal([2.0, 4, 6, 8], byName["f64_out"].GetData<double>());
        Assert.Equal([3L, 7L], byName["i64_out"].GetData<long>());
        Assert.Equal([false, true], byName["flag_out"].GetData<bool>());
        Assert.Equal(["a", "b"], byName["text_out"].GetData<string>());
        Assert.Equal(ModelElementType.UInt8, byName["u8_out"].ElementType);
        Assert.Throws<InvalidCastException>(() => byName["u8_out"].GetData<float>());
    }

    [Fact]
    public async Task RunAsync_RejectsMissingUnknownWrongTypeAndWrongShape()
    {
        var runner = await Runner(TestModels.IrisMlp);

        var missing = await Assert.ThrowsAsync<ModelInputException>(async () => await runner.RunAsync([]));
        Assert.Equal("features", missing.MemberName);
        Assert.Contains("is missing", missing.Reason);

        var unknown = await Assert.ThrowsAsync<ModelInputException>(async () => await runner.RunAsync([NamedTensor.Create("x", new float[4], 1, 4)]));
        Assert.Contains("is not an input of the model (inputs: 'features')", unknown.Reason);

        var type = await Assert.ThrowsAsync<ModelInputException>(async () => await runner.RunAsync([NamedTensor.Create("features", new double[4], 1, 4)]));
        Assert.Equal("is float64; the model expects float32 [batch,4]", type.Reason);

        var shape = await Assert.ThrowsAsync<ModelInputException>(async () => await runner.RunAsync([NamedTensor.Create("features", new float[6], 2, 3)]));
        Assert.Equal("has shape [2,3]; the model expects float32 [batch,4]", shape.Reason);

        var nan = await Assert.ThrowsAsync<ModelInputException>(async () => await runner.RunAsync([NamedTensor.Create("features", new[] { 1f, float.NaN, 1, 1 }, 1, 4)]));
        Assert.Equal("features[1]", nan.MemberName);

        var ok = await runner.RunAsync([NamedTensor.Create("features", IrisSamples.Virginica, 1, 4)]);
        Assert.Equal([2L], ok[0].GetData<long>());
    }

    [Fact]
    public void NamedTensor_Create_ChecksShapeAgainstData()
    {
        var ex = Assert.Throws<ArgumentException>(() => NamedTensor.Create("x", new float[5], 2, 3));
        Assert.Contains("holds 6 elements but the data has 5", ex.Message);
        Assert.Throws<ArgumentException>(() => NamedTensor.Create("x", new decimal[1], 1));
    }
}
