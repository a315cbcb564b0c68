using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tests.Sessions;

/// <summary>Issue 13, defect 4: the named-tensor runner returns every output, and checks batch sizes before ONNX Runtime.</summary>
public class ModelRunnerOutputsTests
{
    private static async Task<IModelRunner> Runner(string path)
    {
        var sp = await TestModels.ProviderAsync(s => s.AddModel("m", o => o.Source = ModelSource.FromFile(path)));
        return sp.GetRequiredKeyedService<IModelRunner>("m");
    }

    [Fact]
    public async Task ZipMapOutput_ComesBack_AsASequenceOfMaps()
    {
        var runner = await Runner(TestModels.IrisZipMap);
        var outputs = await runner.RunAsync([NamedTensor.Create("float_input", [.. IrisSamples.Setosa, .. IrisSamples.Virginica], 2, 4)]);

        Assert.Equal(["output_label", "output_probability"], outputs.Select(o => o.Name));
        Assert.Equal([0L, 2L], outputs[0].GetData<long>());
        var probabilities = outputs[1];
        Assert.Equal(ModelValueKind.SequenceOfMaps, probabilities.Kind);
        Assert.Equal(ModelElementType.Int64, probabilities.MapKeyType);
        Assert.Equal(ModelElementType.Float32, probabilities.ElementType);
        Assert.Equal([2L], probabilities.Shape);
        var maps = probabilities.GetMaps<long, float>();
        Assert.Equal(2, maps.Count);
        Assert.Equal([0L, 1L, 2L], maps[0].Keys.Order());
        Assert.True(maps[0][0] > 0.9f);
        Assert.True(maps[1][2] > 0.5f);
        Assert.Equal(1f, maps[1].Values.Sum(), 4);
        Assert.Equal(ModelValueKind.Tensor, outputs[0].Kind);

        var misuse = Assert.Throws<InvalidCastException>(() => probabilities.GetData<float>());
        Assert.Contains("GetMaps<long, float>()", misuse.Message);
        Assert.Throws<InvalidCastException>(() => probabilities.GetMaps<string, float>());

        // A map output cannot be fed back as an input.
        var back = await Assert.ThrowsAsync<ModelInputException>(async () => await runner.RunAsync([NamedTensor.Create("float_input", IrisSamples.Setosa, 1, 4), probabilities]));
        Assert.NotNull(back.Reason);
    }

    [Fact]
    public async Task InputsWithDifferentBatchSizes_AreRejectedBeforeOnnxRuntime_WithA400()
    {
        var runner = await Runner(TestModels.MultiInput);
        var ex = await Assert.ThrowsAsync<ModelInputException>(async () => await runner.RunAsync(
        [
            NamedTensor.Create("text", new[] { "a", "b" }, 2, 1),
            NamedTensor.Create("f32", new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 3, 3),
            NamedTensor.Create("f64", new double[] { 1, 2, 3, 4 }, 2, 2),
            NamedTensor.Create("i32", new[] { 1, 2 }, 2, 1),
            NamedTensor.Create("i64", new long[] { 1, 2, 3, 4 }, 2, 2),
            NamedTensor.Create("u8", new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, 4),
            NamedTensor.Create("flag", new[] { true, false }, 2, 1),
        ]));

        Assert.Equal("f64", ex.MemberName);
        Assert.Contains("has batch size 2 on its batch axis 0 (shape [2,2]) but 'f32' has 3 on its batch axis 0 (shape [3,3])", ex.Reason);
    }
}
