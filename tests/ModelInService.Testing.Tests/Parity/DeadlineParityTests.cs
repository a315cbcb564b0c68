namespace ModelInService.Testing.Tests.Parity;

/// <summary>
/// <see cref="PredictionOptions.Timeout"/>, against the real predictor (iris_mlp.onnx, no batching: the session stage's
/// deadline) and a <see cref="FakePredictor{TInput, TOutput}"/>: a call still running at its deadline fails with
/// <see cref="ModelDeadlineExceededException"/>, not with a result or a cancellation.
/// </summary>
[Collection(nameof(RealIris))]
public sealed class DeadlineParityTests(RealIris real)
{
    private static IrisIn Setosa => new() { Features = RealIris.Setosa };

    [Fact]
    public async Task A_zero_timeout_fails_with_the_session_stages_ModelDeadlineExceededException_before_answering()
    {
        // The real predictor answered a zero deadline now and then on a warm host (its timer fired on another thread
        // after a fast run); it fails every such call at once now, like the fake.
        var options = new PredictionOptions { Timeout = TimeSpan.Zero };
        var fake = new FakePredictor<IrisIn, IrisOut>(RealIris.Name, _ => new IrisOut { Label = 0 }).Enqueue(new IrisOut { Label = 5 });

        var error = await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => fake.PredictAsync(Setosa, options).AsTask());
        var realError = await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => real.Predictor.PredictAsync(Setosa, options).AsTask());
        Assert.Equal(realError.Message, error.Message);

        Assert.Equal("Request to model 'iris' exceeded its 0 ms deadline.", error.Message);
        Assert.Equal(RealIris.Name, error.ModelName);
        Assert.Equal(TimeSpan.Zero, error.Timeout);
        Assert.Equal(1, fake.PendingAnswers);
    }

    [Fact]
    public async Task A_deadline_follows_the_fakes_TimeProvider_as_the_real_one_follows_the_hosts()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var options = new PredictionOptions { Timeout = TimeSpan.FromMilliseconds(50) };
        var fake = new FakePredictor<IrisIn, IrisOut>(RealIris.Name) { TimeProvider = time }.AnswerWith(async (_, ct) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return new IrisOut();
        });

        var call = fake.PredictAsync(Setosa, options).AsTask();
        await Task.Delay(100); // real time passes: the fake clock's deadline does not
        Assert.False(call.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(50));

        var error = await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromMilliseconds(50), error.Timeout);
    }

    [Fact]
    public async Task A_generous_timeout_answers_as_without_one()
    {
        var options = new PredictionOptions { Timeout = TimeSpan.FromMinutes(1) };
        var fake = new FakePredictor<IrisIn, IrisOut>(RealIris.Name, _ => new IrisOut { Label = 7 });

        Assert.Equal(0, (await real.Predictor.PredictAsync(Setosa, options)).Label);
        Assert.Equal(7, (await fake.PredictAsync(Setosa, options)).Label);
    }

    [Fact]
    public async Task A_slow_answer_that_watches_its_token_fails_at_the_deadline()
    {
        var options = new PredictionOptions { Timeout = TimeSpan.FromMilliseconds(50) };
        var fake = new FakePredictor<IrisIn, IrisOut>(RealIris.Name).AnswerWith(async (_, ct) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return new IrisOut();
        });

        var error = await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => fake.PredictAsync(Setosa, options).AsTask());

        Assert.Equal("Request to model 'iris' exceeded its 50 ms deadline.", error.Message);
        Assert.Equal(TimeSpan.FromMilliseconds(50), error.Timeout);
    }

    [Fact]
    public async Task A_slow_answer_that_ignores_its_token_is_abandoned_at_the_deadline()
    {
        // The real predictor stops a run at its deadline (ONNX Runtime's terminate flag): the caller does not wait.
        var options = new PredictionOptions { Timeout = TimeSpan.FromMilliseconds(50) };
        var never = new TaskCompletionSource<IrisOut>(TaskCreationOptions.RunContinuationsAsynchronously);
        var fake = new FakePredictor<IrisIn, IrisOut>(RealIris.Name).AnswerWith((_, _) => new ValueTask<IrisOut>(never.Task));

        var call = fake.PredictAsync(Setosa, options).AsTask();
        var finished = await Task.WhenAny(call, Task.Delay(TimeSpan.FromSeconds(30)));

        Assert.Same(call, finished);
        await Assert.ThrowsAsync<ModelDeadlineExceededException>(() => call);
    }

    [Fact]
    public async Task With_a_timeout_a_canceled_token_is_a_cancellation_not_a_deadline()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var options = new PredictionOptions { Timeout = TimeSpan.Zero };
        var fake = new FakePredictor<IrisIn, IrisOut>(RealIris.Name, _ => new IrisOut());

        var realError = await Record.ExceptionAsync(() => real.Predictor.PredictAsync(Setosa, options, cts.Token).AsTask());
        var fakeError = await Record.ExceptionAsync(() => fake.PredictAsync(Setosa, options, cts.Token).AsTask());

        Assert.IsAssignableFrom<OperationCanceledException>(realError);
        Assert.Equal(realError!.GetType(), fakeError?.GetType());
    }

    [Fact]
    public async Task Canceling_during_a_slow_answer_with_a_timeout_is_a_cancellation_not_a_deadline()
    {
        using var cts = new CancellationTokenSource();
        var options = new PredictionOptions { Timeout = TimeSpan.FromMinutes(1) };
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fake = new FakePredictor<IrisIn, IrisOut>(RealIris.Name).AnswerWith(async (_, ct) =>
        {
            started.SetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return new IrisOut();
        });

        var call = fake.PredictAsync(Setosa, options, cts.Token).AsTask();
        await started.Task;
        await cts.CancelAsync();

        var error = await Record.ExceptionAsync(() => call);
        Assert.IsAssignableFrom<OperationCanceledException>(error);
    }

    [Fact]
    public async Task A_large_batch_with_a_canceled_token_stops_validating_every_1024_rows_as_the_real_one()
    {
        // The real batch looks at its token every 1,024 rows while validating: a null beyond that is never reached.
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var rows = Enumerable.Range(0, 2000).Select(i => i == 1500 ? null! : Setosa).ToArray();
        var fake = new FakePredictor<IrisIn, IrisOut>(RealIris.Name, _ => new IrisOut());

        var realError = await Record.ExceptionAsync(() => real.Predictor.PredictBatchAsync(rows, cts.Token).AsTask());
        var fakeError = await Record.ExceptionAsync(() => fake.PredictBatchAsync(rows, cts.Token).AsTask());

        Assert.IsType<OperationCanceledException>(realError);
        Assert.Equal(realError!.GetType(), fakeError?.GetType());
    }
}
