namespace ModelInService.Testing.Tests;

public sealed class FakeModelRunnerTests
{
    private static FakeModelRunner Iris() => new FakeModelRunner("iris")
        .WithInput("features", ModelElementType.Float32, -1, 4)
        .WithOutput("label", ModelElementType.Int64, -1)
        .WithMetadata("feature_names", "a,b,c,d");

    [Fact]
    public async Task Answers_checked_inputs_and_records_every_call()
    {
        var runner = Iris().AnswerWith(inputs =>
        {
            var rows = inputs[0].Shape[0];
            return [NamedTensor.Create("label", new long[rows], rows)];
        });

        var outputs = await runner.RunAsync([NamedTensor.Create("features", new float[8], 2, 4)]);

        Assert.Equal("label", outputs[0].Name);
        Assert.Equal([2L], outputs[0].Shape);
        Assert.Equal(1, runner.CallCount);
        Assert.Equal([2L, 4L], runner.Calls[0][0].Shape);
        Assert.Equal("a,b,c,d", runner.Signature.Metadata["feature_names"]);
        Assert.True(runner.Signature.Inputs[0].HasDynamicBatch);
        Assert.Equal("float32 [?,4]", runner.Signature.Inputs[0].ToString());
    }

    [Theory]
    [InlineData("unknown", "other is not an input of the model (inputs: 'features')")]
    [InlineData("type", "features is int64; the model expects float32 [?,4]")]
    [InlineData("rank", "features has shape [4]; the model expects float32 [?,4]")]
    [InlineData("dimension", "features has shape [1,3]; the model expects float32 [?,4]")]
    [InlineData("twice", "features is given twice")]
    [InlineData("missing", "features is missing; the model expects float32 [?,4]")]
    public async Task Inputs_that_do_not_fit_the_signature_fail_like_the_real_runner_naming_the_tensor(string mistake, string expected)
    {
        var runner = Iris().AnswerWith(_ => throw new InvalidOperationException("must not be reached"));
        IReadOnlyList<NamedTensor> inputs = mistake switch
        {
            "unknown" => [NamedTensor.Create("other", new float[4], 1, 4)],
            "type" => [NamedTensor.Create("features", new long[4], 1, 4)],
            "rank" => [NamedTensor.Create("features", new float[4], 4)],
            "dimension" => [NamedTensor.Create("features", new float[3], 1, 3)],
            "twice" => [NamedTensor.Create("features", new float[4], 1, 4), NamedTensor.Create("features", new float[4], 1, 4)],
            _ => [],
        };

        var error = await Assert.ThrowsAsync<ModelInputException>(() => runner.RunAsync(inputs).AsTask());

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(1, runner.CallCount);
    }

    [Fact]
    public async Task Configuration_mistakes_say_what_to_do()
    {
        var noAnswer = Iris();
        var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => noAnswer.RunAsync([NamedTensor.Create("features", new float[4], 1, 4)]).AsTask());
        Assert.Contains("AnswerWith", missing.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => noAnswer.WithInput("late", ModelElementType.Float32, 1));

        var empty = new FakeModelRunner();
        Assert.Contains("WithInput", Assert.Throws<InvalidOperationException>(() => empty.Signature).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new FakeModelRunner().WithInput("x", ModelElementType.Float32, -2));
        Assert.Throws<ArgumentException>(() => new FakeModelRunner().WithInput("x", ModelElementType.Float32, 1).WithInput("x", ModelElementType.Float32, 1));
        await Assert.ThrowsAsync<ArgumentNullException>(() => Iris().RunAsync(null!).AsTask());
    }

    [Fact]
    public async Task Throws_and_cancellation_behave_like_the_real_runner()
    {
        var runner = Iris().Throws(new ModelNotReadyException("iris", "loading"));
        await Assert.ThrowsAsync<ModelNotReadyException>(() => runner.RunAsync([NamedTensor.Create("features", new float[4], 1, 4)]).AsTask());

        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => runner.RunAsync([NamedTensor.Create("features", new float[4], 1, 4)], canceled.Token).AsTask());
        Assert.Equal(2, runner.CallCount);
    }
}
