namespace ModelInService.Testing.Tests;

public sealed class FakePredictorTests
{
    public sealed record Input(float Value);

    public sealed record Output(string Label);

    [Fact]
    public async Task AnswersWithTheFunctionAndRecordsTheCall()
    {
        var predictor = new FakePredictor<Input, Output>("iris", i => new Output(i.Value > 1 ? "big" : "small"));

        var output = await predictor.PredictAsync(new Input(2));

        Assert.Equal("big", output.Label);
        Assert.Equal("iris", predictor.ModelName);
        var call = Assert.Single(predictor.Calls);
        Assert.Equal(new Input(2), call.Input);
        Assert.False(call.IsBatch);
        Assert.Null(call.Options);
    }

    [Fact]
    public async Task RecordsTheOptionsOfTheCall()
    {
        var predictor = new FakePredictor<Input, Output>().Returns(new Output("x"));
        var options = new PredictionOptions { Priority = PredictionPriority.High, RoutingKey = "user-7", Timeout = TimeSpan.FromMilliseconds(50) };

        await predictor.PredictAsync(new Input(1), options);

        Assert.Same(options, predictor.LastCall.Options);
        Assert.Equal(PredictionPriority.High, predictor.LastCall.Options!.Priority);
    }

    [Fact]
    public async Task QueuedAnswersAndExceptionsComeFirstInOrderThenTheFunction()
    {
        var overloaded = new ModelOverloadedException("iris", "queue full", TimeSpan.FromSeconds(2));
        var predictor = new FakePredictor<Input, Output>("iris", _ => new Output("default"))
            .Enqueue(new Output("first"))
            .EnqueueException(overloaded)
            .EnqueueRange([new Output("third")]);
        Assert.Equal(3, predictor.PendingAnswers);

        Assert.Equal("first", (await predictor.PredictAsync(new Input(0))).Label);
        var thrown = await Assert.ThrowsAsync<ModelOverloadedException>(() => predictor.PredictAsync(new Input(0)).AsTask());
        Assert.Same(overloaded, thrown);
        Assert.Equal("third", (await predictor.PredictAsync(new Input(0))).Label);
        Assert.Equal("default", (await predictor.PredictAsync(new Input(0))).Label);
        Assert.Equal(0, predictor.PendingAnswers);
        Assert.Equal(4, predictor.CallCount);
    }

    [Fact]
    public async Task WithoutAnAnswerTheCallFailsSayingWhatToConfigure()
    {
        var predictor = new FakePredictor<Input, Output>("iris");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => predictor.PredictAsync(new Input(0)).AsTask());

        Assert.Contains("AnswerWith", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, predictor.CallCount);
    }

    [Fact]
    public async Task ThrowsMakesEveryCallFail()
    {
        var predictor = new FakePredictor<Input, Output>("iris").Throws(new ModelNotReadyException("iris", "loading"));

        await Assert.ThrowsAsync<ModelNotReadyException>(() => predictor.PredictAsync(new Input(0)).AsTask());
        await Assert.ThrowsAsync<ModelNotReadyException>(() => predictor.PredictBatchAsync([new Input(0)]).AsTask());
    }

    [Fact]
    public async Task ValidatesArgumentsLikeTheRealPredictor()
    {
        var predictor = new FakePredictor<Input, Output>("iris").Returns(new Output("x"));

        var nullInput = await Assert.ThrowsAsync<ModelInputException>(() => predictor.PredictAsync(null!).AsTask());
        Assert.Equal("iris", nullInput.ModelName);
        Assert.Equal("the Input is null", nullInput.Reason);
        Assert.Equal(-1, nullInput.Index);
        await Assert.ThrowsAsync<ArgumentNullException>(() => predictor.PredictAsync(new Input(0), null!).AsTask());
        await Assert.ThrowsAsync<ArgumentNullException>(() => predictor.PredictBatchAsync(null!).AsTask());
        var nullItem = await Assert.ThrowsAsync<ModelInputException>(() => predictor.PredictBatchAsync([new Input(0), null!]).AsTask());
        Assert.Equal(1, nullItem.Index);
    }

    [Fact]
    public async Task ACanceledTokenThrowsAndTheCallIsStillRecorded()
    {
        var predictor = new FakePredictor<Input, Output>("iris").Enqueue(new Output("x"));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => predictor.PredictAsync(new Input(0), cts.Token).AsTask());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => predictor.PredictBatchAsync([new Input(0)], cts.Token).AsTask());

        Assert.Equal(2, predictor.CallCount);
        Assert.Equal(1, predictor.PendingAnswers);
    }

    [Fact]
    public async Task ABatchIsOneCallAnsweredItemByItemInOrder()
    {
        var predictor = new FakePredictor<Input, Output>("iris", i => new Output($"v{i.Value}")).Enqueue(new Output("queued"));

        var outputs = await predictor.PredictBatchAsync([new Input(1), new Input(2), new Input(3)]);

        Assert.Equal(["queued", "v2", "v3"], outputs.Select(o => o.Label));
        var call = Assert.Single(predictor.Calls);
        Assert.True(call.IsBatch);
        Assert.Equal([new Input(1), new Input(2), new Input(3)], call.Inputs);
        Assert.Equal([new Input(1), new Input(2), new Input(3)], predictor.Inputs);
    }

    [Fact]
    public async Task ABatchItemsInputErrorCarriesItsIndexAsTheRealPredictorDoes()
    {
        var predictor = new FakePredictor<Input, Output>("iris", i => float.IsNaN(i.Value)
            ? throw new ModelInputException("iris", "Input.Value", "is NaN")
            : new Output("ok"));

        var ex = await Assert.ThrowsAsync<ModelInputException>(() => predictor.PredictBatchAsync([new Input(1), new Input(float.NaN)]).AsTask());

        Assert.Equal(1, ex.Index);
        Assert.Equal("Input.Value", ex.MemberName);
        Assert.Contains("batch item 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAsyncAnswerHoldsCallsInFlightUntilTheTestReleasesThem()
    {
        var release = new TaskCompletionSource<Output>(TaskCreationOptions.RunContinuationsAsynchronously);
        var predictor = new FakePredictor<Input, Output>("iris").AnswerWith((_, ct) => new ValueTask<Output>(release.Task.WaitAsync(ct)));

        var pending = predictor.PredictAsync(new Input(1)).AsTask();
        Assert.False(pending.IsCompleted);
        Assert.Equal(1, predictor.CallCount);

        release.SetResult(new Output("late"));
        Assert.Equal("late", (await pending).Label);
    }

    [Fact]
    public async Task AnAsyncAnswerReceivesTheCallsToken()
    {
        var predictor = new FakePredictor<Input, Output>("iris").AnswerWith(async (_, ct) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return new Output("never");
        });
        using var cts = new CancellationTokenSource();

        var pending = predictor.PredictAsync(new Input(1), cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    [Fact]
    public async Task ConcurrentCallsAreAllRecordedAndEachQueuedAnswerIsUsedOnce()
    {
        const int calls = 400;
        var predictor = new FakePredictor<Input, Output>("iris", _ => new Output("default"));
        predictor.EnqueueRange(Enumerable.Range(0, calls / 2).Select(i => new Output($"q{i}")));

        var outputs = await Task.WhenAll(Enumerable.Range(0, calls).Select(i => Task.Run(async () => await predictor.PredictAsync(new Input(i)))));

        Assert.Equal(calls, predictor.CallCount);
        Assert.Equal(calls / 2, outputs.Count(o => o.Label == "default"));
        var queued = outputs.Where(o => o.Label != "default").Select(o => o.Label).ToList();
        Assert.Equal(calls / 2, queued.Distinct().Count());
        Assert.Equal(Enumerable.Range(0, calls).Select(i => (float)i).Order(), predictor.Inputs.Select(i => i.Value).Order());
    }

    [Fact]
    public async Task ClearCallsKeepsTheAnswersAndResetForgetsEverything()
    {
        var predictor = new FakePredictor<Input, Output>("iris", _ => new Output("x")).Enqueue(new Output("q"));
        await predictor.PredictAsync(new Input(0));

        predictor.ClearCalls();
        Assert.Empty(predictor.Calls);
        Assert.Throws<InvalidOperationException>(() => predictor.LastCall);
        Assert.Equal("x", (await predictor.PredictAsync(new Input(0))).Label);

        predictor.Enqueue(new Output("q2"));
        predictor.Reset();
        Assert.Equal(0, predictor.CallCount);
        Assert.Equal(0, predictor.PendingAnswers);
        await Assert.ThrowsAsync<InvalidOperationException>(() => predictor.PredictAsync(new Input(0)).AsTask());
    }

    [Fact]
    public void IsAnIPredictorForDependencyInjection()
    {
        var predictor = new FakePredictor<Input, Output>("iris");

        Assert.IsAssignableFrom<IPredictor<Input, Output>>(predictor);
        Assert.Equal("iris", ((IPredictor<Input, Output>)predictor).ModelName);
        Assert.Throws<ArgumentException>(() => new FakePredictor<Input, Output>(""));
    }
}
