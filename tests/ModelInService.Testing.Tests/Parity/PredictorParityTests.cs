namespace ModelInService.Testing.Tests.Parity;

/// <summary>The same calls against the real predictor (iris_mlp.onnx) and a <see cref="FakePredictor{TInput, TOutput}"/>.</summary>
[Collection(nameof(RealIris))]
public sealed class PredictorParityTests(RealIris real)
{
    private static FakePredictor<IrisIn, IrisOut> Fake() => new(RealIris.Name, _ => new IrisOut { Label = 0, Probabilities = [1, 0, 0] });

    private static IrisIn Setosa => new() { Features = RealIris.Setosa };

    [Fact]
    public async Task A_null_input_is_rejected_with_the_real_reason_and_message()
    {
        var realError = await Failure(() => real.Predictor.PredictAsync(null!));
        var fakeError = await Failure(() => Fake().PredictAsync(null!));

        var realInput = Assert.IsType<ModelInputException>(realError);
        var fakeInput = Assert.IsType<ModelInputException>(fakeError);
        Assert.Equal("the IrisIn is null", realInput.Reason);
        Assert.Equal(realInput.Reason, fakeInput.Reason);
        Assert.Equal(realInput.Message, fakeInput.Message);
        Assert.Equal(realInput.MemberName, fakeInput.MemberName);

        var realItem = await Failure(() => real.Predictor.PredictBatchAsync([Setosa, null!]));
        var fakeItem = await Failure(() => Fake().PredictBatchAsync([Setosa, null!]));
        Assert.Equal(realItem.GetType(), fakeItem.GetType());
        Assert.Equal(realItem.Message, fakeItem.Message);
        Assert.Equal(1, ((ModelInputException)fakeItem).Index);
    }

    [Fact]
    public async Task A_canceled_token_fails_with_the_real_exception_types_single_and_batch()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        var realSingle = await Failure(() => real.Predictor.PredictAsync(Setosa, cts.Token));
        var fakeSingle = await Failure(() => Fake().PredictAsync(Setosa, cts.Token));
        Assert.IsType<TaskCanceledException>(realSingle);
        Assert.Equal(realSingle.GetType(), fakeSingle.GetType());

        var realBatch = await Failure(() => real.Predictor.PredictBatchAsync([Setosa, Setosa], cts.Token));
        var fakeBatch = await Failure(() => Fake().PredictBatchAsync([Setosa, Setosa], cts.Token));
        Assert.IsType<OperationCanceledException>(realBatch);
        Assert.Equal(realBatch.GetType(), fakeBatch.GetType());

        // An empty batch runs nothing, so neither looks at the token.
        Assert.Empty(await real.Predictor.PredictBatchAsync([], cts.Token));
        Assert.Empty(await Fake().PredictBatchAsync([], cts.Token));
    }

    [Fact]
    public async Task With_a_canceled_token_a_null_input_is_still_reported_as_invalid_input_first()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        var realSingle = await Failure(() => real.Predictor.PredictAsync(null!, cts.Token));
        var fakeSingle = await Failure(() => Fake().PredictAsync(null!, cts.Token));
        Assert.IsType<ModelInputException>(realSingle);
        Assert.Equal(realSingle.GetType(), fakeSingle.GetType());
        Assert.Equal(realSingle.Message, fakeSingle.Message);

        var realBatch = await Failure(() => real.Predictor.PredictBatchAsync([Setosa, null!], cts.Token));
        var fakeBatch = await Failure(() => Fake().PredictBatchAsync([Setosa, null!], cts.Token));
        Assert.IsType<ModelInputException>(realBatch);
        Assert.Equal(realBatch.Message, fakeBatch.Message);
    }

    [Fact]
    public async Task Argument_errors_are_thrown_or_reported_as_by_the_real_predictor()
    {
        // A null list: through the task.
        Assert.IsType<ArgumentNullException>(await Failure(() => real.Predictor.PredictBatchAsync(null!)));
        Assert.IsType<ArgumentNullException>(await Failure(() => Fake().PredictBatchAsync(null!)));

        // Null or invalid options: by the call itself.
        Assert.Throws<ArgumentNullException>(() => real.Predictor.PredictAsync(Setosa, null!));
        Assert.Throws<ArgumentNullException>(() => Fake().PredictAsync(Setosa, null!));
        var options = new PredictionOptions { Timeout = TimeSpan.FromSeconds(-1) };
        var realRange = Assert.Throws<ArgumentOutOfRangeException>(() => real.Predictor.PredictAsync(Setosa, options));
        var fakeRange = Assert.Throws<ArgumentOutOfRangeException>(() => Fake().PredictAsync(Setosa, options));
        Assert.Equal(realRange.Message, fakeRange.Message);
    }

    [Fact]
    public async Task A_batch_with_a_synchronous_answer_stops_when_the_token_is_canceled_between_items()
    {
        using var cts = new CancellationTokenSource();
        var answered = 0;
        var predictor = new FakePredictor<IrisIn, IrisOut>(RealIris.Name, _ =>
        {
            if (++answered == 2)
            {
                cts.Cancel();
            }

            return new IrisOut();
        });

        var error = await Failure(() => predictor.PredictBatchAsync([Setosa, Setosa, Setosa, Setosa], cts.Token));

        Assert.IsType<OperationCanceledException>(error);
        Assert.Equal(2, answered);
    }

    [Fact]
    public async Task A_batch_held_in_flight_does_not_take_answers_queued_after_it_started()
    {
        // Batch A takes the one queued answer, then waits in the answer function; meanwhile two answers are queued
        // and batch B runs. A's queued answers are the block it took when it started: B takes the next one.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var predictor = new FakePredictor<IrisIn, IrisOut>(RealIris.Name)
            .AnswerWith(async (_, ct) =>
            {
                await gate.Task.WaitAsync(ct);
                return new IrisOut { Label = -1 };
            })
            .Enqueue(new IrisOut { Label = 1 });

        var a = predictor.PredictBatchAsync([Setosa, Setosa, Setosa]).AsTask();
        predictor.EnqueueRange([new IrisOut { Label = 2 }, new IrisOut { Label = 3 }]);
        var b = await predictor.PredictBatchAsync([Setosa]);
        gate.SetResult();

        Assert.Equal([1L, -1L, -1L], (await a).Select(o => o.Label));
        Assert.Equal([2L], b.Select(o => o.Label));
        Assert.Equal(1, predictor.PendingAnswers);
    }

    [Fact]
    public async Task Concurrent_batches_each_take_their_queued_answers_as_one_consecutive_block()
    {
        const int Threads = 4;
        const int BatchesPerThread = 300;
        const int BatchSize = 100;
        var predictor = new FakePredictor<IrisIn, IrisOut>(RealIris.Name);
        predictor.EnqueueRange(Enumerable.Range(0, Threads * BatchesPerThread * BatchSize).Select(i => new IrisOut { Label = i }));
        var inputs = Enumerable.Repeat(Setosa, BatchSize).ToArray();
        using var start = new ManualResetEventSlim();

        var workers = Enumerable.Range(0, Threads).Select(_ => Task.Factory.StartNew(
            async () =>
            {
                start.Wait();
                var labels = new List<long[]>();
                for (var b = 0; b < BatchesPerThread; b++)
                {
                    labels.Add([.. (await predictor.PredictBatchAsync(inputs)).Select(o => o.Label)]);
                }

                return labels;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).Unwrap()).ToArray();
        start.Set();
        var batches = (await Task.WhenAll(workers)).SelectMany(l => l).ToList();

        Assert.Equal(0, predictor.PendingAnswers);
        var interleaved = batches.Count(labels => !labels.Select((label, i) => label == labels[0] + i).All(x => x));
        Assert.Equal(0, interleaved);
    }

    /// <summary>Runs the call, which must not throw by itself, and returns how its task failed.</summary>
    private static async Task<Exception> Failure<T>(Func<ValueTask<T>> call)
    {
        ValueTask<T> task = default;
        var thrown = Record.Exception(() => task = call());
        Assert.True(thrown is null, $"the call threw by itself: {thrown}");
        var error = await Record.ExceptionAsync(() => task.AsTask());
        Assert.True(error is not null, "the call succeeded");
        return error;
    }
}
