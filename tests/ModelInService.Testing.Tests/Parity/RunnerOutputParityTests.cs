namespace ModelInService.Testing.Tests.Parity;

/// <summary>
/// The outputs a call returns, from the real runner (iris_mlp.onnx) and a <see cref="FakeModelRunner"/> declared like
/// it: every declared output, in the signature's order, with its declared rank and fixed dimensions.
/// </summary>
[Collection(nameof(RealIris))]
public sealed class RunnerOutputParityTests(RealIris real)
{
    private static NamedTensor TwoRows => NamedTensor.Create("features", [.. RealIris.Setosa, .. RealIris.Setosa], 2, 4);

    [Fact]
    public async Task The_outputs_come_in_the_signatures_order_whatever_order_the_answer_used()
    {
        // A caller that reads outputs[1] as the probabilities works with the real runner: so must it with the fake.
        var realOutputs = await real.Runner.RunAsync([TwoRows]);
        var fake = RealIris.FakeRunner().AnswerWith(_ => [NamedTensor.Create("probabilities", new float[6], 2, 3), NamedTensor.Create("label", new long[2], 2)]);
        var fakeOutputs = await fake.RunAsync([TwoRows]);

        Assert.Equal(["label", "probabilities"], realOutputs.Select(o => o.Name));
        Assert.Equal(realOutputs.Select(o => o.Name), fakeOutputs.Select(o => o.Name));
        Assert.Equal(realOutputs.Select(o => o.Shape.ToArray()), fakeOutputs.Select(o => o.Shape.ToArray()));
    }

    [Fact]
    public async Task An_answer_that_leaves_out_a_declared_output_is_refused_the_real_runner_returns_every_one()
    {
        Assert.Equal(2, (await real.Runner.RunAsync([TwoRows])).Count);
        var fake = RealIris.FakeRunner().AnswerWith(_ => [NamedTensor.Create("label", new long[2], 2)]);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => fake.RunAsync([TwoRows]).AsTask());

        Assert.Contains($"did not return output 'probabilities' ({fake.Signature.FindOutput("probabilities")})", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, 4)]
    [InlineData(6)]
    public async Task An_answer_with_a_shape_the_signature_cannot_have_is_refused(params int[] shape)
    {
        var dims = shape.Select(d => (long)d).ToArray();
        var fake = RealIris.FakeRunner().AnswerWith(_ => [NamedTensor.Create("label", new long[2], 2), NamedTensor.Create("probabilities", new float[dims.Aggregate(1L, (a, b) => a * b)], dims)]);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => fake.RunAsync([TwoRows]).AsTask());

        Assert.Contains($"with shape [{string.Join(',', shape)}]; the signature declares {fake.Signature.FindOutput("probabilities")}", error.Message, StringComparison.Ordinal);
    }
}
