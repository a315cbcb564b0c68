using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tests.Sessions;

/// <summary>
/// Issue 13 follow-up: <see cref="IModelRunner"/>'s batch-size check uses the per-tensor batch axes of
/// <see cref="ModelSignature.Batching"/>, not "every free first dimension": a state batched on axis 1 is compared on
/// axis 1, and an input without a batch axis is not compared at all.
/// </summary>
public sealed class ModelRunnerBatchAxesTests
{
    private static async Task<IModelRunner> Runner(string file, Action<ModelOptions>? configure = null)
    {
        var provider = await TestModels.ProviderAsync(s => s.AddModel("m", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.Path(file));
            configure?.Invoke(o);
        }));
        return provider.GetRequiredKeyedService<IModelRunner>("m");
    }

    private static float[] Values(int count) => Enumerable.Range(0, count).Select(i => (float)i).ToArray();

    [Fact]
    public async Task StateOnAxis1_WithADifferentRowCount_IsA400NamingTheAxis()
    {
        // conv_batch_axis1: x [N,4], state [2,N,3] with BatchAxes["state"] = 1. The graph never combines x and state,
        // so before the fix 3 rows of x and 2 of state ran and returned outputs whose rows did not match.
        var runner = await Runner("conv_batch_axis1.onnx", o => { o.BatchAxes["state"] = 1; o.BatchAxes["state_out"] = 1; });
        Assert.Equal(1, runner.Signature.Batching.Find("state")!.Axis);

        var ex = await Assert.ThrowsAsync<ModelInputException>(async () => await runner.RunAsync(
        [
            NamedTensor.Create("x", Values(12), 3, 4),
            NamedTensor.Create("state", Values(12), 2, 2, 3),
        ]));
        Assert.Equal("state", ex.MemberName);
        Assert.Contains("has batch size 2 on its batch axis 1 (shape [2,2,3]) but 'x' has 3 on its batch axis 0", ex.Reason, StringComparison.Ordinal);

        // Agreeing on the axes runs: 3 rows each.
        var outputs = await runner.RunAsync([NamedTensor.Create("x", Values(12), 3, 4), NamedTensor.Create("state", Values(18), 2, 3, 3)]);
        Assert.Equal([2L, 3, 3], outputs.Single(o => o.Name == "state_out").Shape.Select(d => (long)d));
    }

    [Fact]
    public async Task AnInputWithoutABatchAxis_IsNotComparedEvenWithAFreeFirstDimension()
    {
        // conv_batch_axis1 with BatchAxes["x"] = -1: x [N,4] is then one value for the whole run, and the rows are on
        // state's axis 1, the only batch axis left: nothing to compare (the regression for this case is the next test).
        var runner = await Runner("conv_batch_axis1.onnx", o => { o.BatchAxes["x"] = -1; o.BatchAxes["state"] = 1; o.BatchAxes["state_out"] = 1; });
        Assert.Equal(-1, runner.Signature.Batching.Find("x")!.Axis);

        var outputs = await runner.RunAsync([NamedTensor.Create("x", Values(4), 1, 4), NamedTensor.Create("state", Values(18), 2, 3, 3)]);
        Assert.Equal([1L, 4], outputs.Single(o => o.Name == "y").Shape.Select(d => (long)d));
    }

    [Fact]
    public async Task MultiInput_WithAStringInputDeclaredWithoutABatchAxis_IsNotComparedOnIt()
    {
        // Two inputs with free first dimensions, one declared as no batch axis: the old check compared them anyway.
        var runner = await Runner("multi_input.onnx", o => o.BatchAxes["text"] = -1);
        var outputs = await runner.RunAsync(
        [
            NamedTensor.Create("text", new[] { "a" }, 1, 1),
            NamedTensor.Create("f32", new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3),
            NamedTensor.Create("f64", new double[] { 1, 2, 3, 4 }, 2, 2),
            NamedTensor.Create("i32", new[] { 1, 2 }, 2, 1),
            NamedTensor.Create("i64", new long[] { 1, 2, 3, 4 }, 2, 2),
            NamedTensor.Create("u8", new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, 4),
            NamedTensor.Create("flag", new[] { true, false }, 2, 1),
        ]);
        Assert.Equal([1L, 1], outputs.Single(o => o.Name == "text_out").Shape.Select(d => (long)d));
        Assert.Equal([2L, 1], outputs.Single(o => o.Name == "f32_sum").Shape.Select(d => (long)d));
    }
}
