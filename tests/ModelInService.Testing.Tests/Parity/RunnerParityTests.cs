namespace ModelInService.Testing.Tests.Parity;

/// <summary>The same calls against the real runner (iris_mlp.onnx) and a <see cref="FakeModelRunner"/> declared like it.</summary>
[Collection(nameof(RealIris))]
public sealed class RunnerParityTests(RealIris real)
{
    /// <summary>Declared exactly as the model: its free batch dimension is named <c>batch</c>.</summary>
    private static FakeModelRunner Fake() => new FakeModelRunner(RealIris.Name)
        .WithInput("features", ModelElementType.Float32, ["batch", ""], -1, 4)
        .WithOutput("label", ModelElementType.Int64, ["batch"], -1)
        .WithOutput("probabilities", ModelElementType.Float32, ["batch", ""], -1, 3)
        .AnswerWith(inputs =>
        {
            var rows = inputs[0].Shape[0];
            return [NamedTensor.Create("label", new long[rows], rows), NamedTensor.Create("probabilities", new float[rows * 3], rows, 3)];
        });

    public static TheoryData<string> Mistakes() =>
    [
        "null list", "null tensor", "element type", "dimension", "rank", "unknown", "twice", "missing", "NaN", "infinity",
        "canceled", "canceled and invalid",
    ];

    [Theory]
    [MemberData(nameof(Mistakes))]
    public async Task Every_failure_comes_through_the_task_with_the_real_runners_exception_and_message(string mistake)
    {
        var realError = await FailureOf(real.Runner, mistake);
        var fakeError = await FailureOf(Fake(), mistake);

        Assert.Equal(realError.GetType(), fakeError.GetType());
        Assert.Equal(realError.Message, fakeError.Message);
        if (realError is ModelInputException realInput)
        {
            var fakeInput = (ModelInputException)fakeError;
            Assert.Equal(realInput.MemberName, fakeInput.MemberName);
            Assert.Equal(realInput.Reason, fakeInput.Reason);
        }
    }

    [Fact]
    public async Task Task_WhenAll_over_calls_sees_each_failure_as_with_the_real_runner()
    {
        // The pattern the probe used: the failing call must not throw out of the Select before WhenAll runs.
        IReadOnlyList<NamedTensor>[] items = [[Features(RealIris.Setosa)], [NamedTensor.Create("features", new double[4], 1, 4)]];
        foreach (var runner in new[] { real.Runner, Fake() })
        {
            var all = Task.WhenAll(items.Select(i => runner.RunAsync(i).AsTask()));
            await Assert.ThrowsAsync<ModelInputException>(() => all);
        }
    }

    [Fact]
    public async Task A_call_with_no_answer_fails_through_its_task()
    {
        var runner = new FakeModelRunner(RealIris.Name).WithInput("features", ModelElementType.Float32, -1, 4).WithOutput("label", ModelElementType.Int64, -1);
        ValueTask<IReadOnlyList<NamedTensor>> call = default;
        Assert.Null(Record.Exception(() => call = runner.RunAsync([Features(RealIris.Setosa)])));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => call.AsTask());
        Assert.Contains("AnswerWith", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_naming_an_undeclared_output_is_refused_the_real_runner_returns_declared_outputs_only()
    {
        var outputs = await real.Runner.RunAsync([Features(RealIris.Setosa)]);
        Assert.Equal(["label", "probabilities"], outputs.Select(o => o.Name));

        var runner = Fake().AnswerWith(_ => [NamedTensor.Create("label", new long[1], 1), NamedTensor.Create("scores", new float[3], 1, 3)]);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => runner.RunAsync([Features(RealIris.Setosa)]).AsTask());
        Assert.Contains("output 'scores', which the signature does not declare (outputs: 'label' (int64 [batch]), 'probabilities' (float32 [batch,3]))", error.Message, StringComparison.Ordinal);

        var wrongType = Fake().AnswerWith(_ => [NamedTensor.Create("label", new float[1], 1)]);
        Assert.Contains("'label' as float32; the signature declares int64 [batch]", (await Assert.ThrowsAsync<InvalidOperationException>(() => wrongType.RunAsync([Features(RealIris.Setosa)]).AsTask())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NaN_is_accepted_once_allowed_as_with_ModelOptions_NonFiniteValues_Allow()
    {
        var runner = Fake().AllowNonFiniteValues();
        var outputs = await runner.RunAsync([Features([1, float.NaN, 1, 1])]);
        Assert.Equal(2, outputs.Count);
    }

    private static NamedTensor Features(float[] row) => NamedTensor.Create("features", row, 1, 4);

    /// <summary>Runs the mistake; the call itself must not throw (the real runner's RunAsync is an async method).</summary>
    private static async Task<Exception> FailureOf(IModelRunner runner, string mistake)
    {
        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();
        var token = mistake.StartsWith("canceled", StringComparison.Ordinal) ? canceled.Token : CancellationToken.None;
        IReadOnlyList<NamedTensor>? inputs = mistake switch
        {
            "null list" => null,
            "null tensor" => [null!],
            "element type" => [NamedTensor.Create("features", new double[4], 1, 4)],
            "dimension" => [NamedTensor.Create("features", new float[3], 1, 3)],
            "rank" => [NamedTensor.Create("features", new float[4], 4)],
            "unknown" => [NamedTensor.Create("x", new float[4], 1, 4)],
            "twice" => [Features(RealIris.Setosa), Features(RealIris.Setosa)],
            "missing" => [],
            "NaN" => [Features([1, float.NaN, 1, 1])],
            "infinity" => [Features([1, 1, float.PositiveInfinity, 1])],
            "canceled" => [Features(RealIris.Setosa)],
            _ => [NamedTensor.Create("features", new float[3], 1, 3)],
        };

        ValueTask<IReadOnlyList<NamedTensor>> call = default;
        var thrown = Record.Exception(() => call = runner.RunAsync(inputs!, token));
        Assert.True(thrown is null, $"{runner.GetType().Name}.RunAsync threw synchronously for '{mistake}': {thrown}");
        var error = await Record.ExceptionAsync(() => call.AsTask());
        Assert.True(error is not null, $"{runner.GetType().Name} accepted '{mistake}'");
        return error;
    }
}
