using System.Globalization;

namespace ModelInService.Testing;

/// <summary>
/// An <see cref="IPredictor{TInput, TOutput}"/> for unit tests: answers from a function or from a queue of answers and
/// exceptions, and records every call with its inputs and options. No model, no ONNX Runtime.
/// </summary>
/// <typeparam name="TInput">The input type.</typeparam>
/// <typeparam name="TOutput">The output type.</typeparam>
/// <remarks>
/// <para>
/// Each input is answered by the first entry of the queue (<see cref="Enqueue(TOutput)"/>,
/// <see cref="EnqueueException"/>) while it has one, else by the answer function (<see cref="AnswerWith(Func{TInput, TOutput})"/>
/// or the constructor's). With neither, the call fails with <see cref="InvalidOperationException"/> naming what to configure.
/// A batch (<see cref="PredictBatchAsync"/>) answers its inputs in order, one entry or function call each, and fails as
/// a whole when one of them fails; a <see cref="ModelInputException"/> or <see cref="ModelNonFiniteOutputException"/>
/// then carries the item's index, as the real predictor's does. A batch takes its queued entries as one consecutive
/// block when it starts answering (up to one per input), so concurrent calls do not interleave with it; entries taken
/// for inputs after a failing or canceled one are consumed with the batch.
/// </para>
/// <para>
/// Like the real predictor it validates first and reports through the returned task: <see cref="ArgumentNullException"/>
/// for a null list of inputs, <see cref="ModelInputException"/> (<c>the TInput is null</c>) for a null input, then a
/// canceled token: a single call's task is canceled (<see cref="TaskCanceledException"/>), a batch fails with
/// <see cref="OperationCanceledException"/>, checked before each input (and every 1,024 inputs while validating them).
/// Null options or an out-of-range <see cref="PredictionOptions.Timeout"/> are thrown by the call itself, as by the
/// real predictor. A <see cref="PredictionOptions.Timeout"/> is a deadline on <see cref="TimeProvider"/> (the system
/// clock unless set; a test's FakeTimeProvider, as the real predictor uses the host's): the answer function's token is canceled there and a call still unanswered fails with
/// <see cref="ModelDeadlineExceededException"/> (<c>Request to model 'iris' exceeded its 50 ms deadline.</c>), an answer
/// that ignores its token abandoned; a zero timeout fails before answering. Every call is recorded, failed or not. Thread-safe: configure and call it from any number of threads.
/// </para>
/// </remarks>
public sealed class FakePredictor<TInput, TOutput> : IPredictor<TInput, TOutput>
{
    private readonly object _gate = new();
    private readonly Queue<Func<TInput, TOutput>> _queue = new();
    private readonly List<FakePredictorCall<TInput>> _calls = [];
    private Func<TInput, CancellationToken, ValueTask<TOutput>>? _answer;

    /// <summary>The longest <see cref="PredictionOptions.Timeout"/> the real predictor accepts (a timer's limit).</summary>
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>Initializes a fake named <c>fake</c> with no answer yet: configure one with <see cref="AnswerWith(Func{TInput, TOutput})"/> or <see cref="Enqueue(TOutput)"/>.</summary>
    public FakePredictor()
        : this("fake")
    {
    }

    /// <summary>Initializes a fake with no answer yet: configure one with <see cref="AnswerWith(Func{TInput, TOutput})"/> or <see cref="Enqueue(TOutput)"/>.</summary>
    /// <param name="modelName">The name <see cref="ModelName"/> and the exceptions built by the fake carry.</param>
    /// <exception cref="ArgumentException"><paramref name="modelName"/> is null or empty.</exception>
    public FakePredictor(string modelName)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelName);
        ModelName = modelName;
    }

    /// <summary>Initializes a fake that answers every input with <paramref name="answer"/>.</summary>
    /// <param name="modelName">The name <see cref="ModelName"/> carries.</param>
    /// <param name="answer">Computes the output of one input; may throw (for example a <see cref="ModelInputException"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="modelName"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="answer"/> is null.</exception>
    public FakePredictor(string modelName, Func<TInput, TOutput> answer)
        : this(modelName)
    {
        AnswerWith(answer);
    }

    /// <inheritdoc/>
    public string ModelName { get; }

    /// <summary>
    /// Gets the clock of <see cref="PredictionOptions.Timeout"/> deadlines: <see cref="TimeProvider.System"/> unless set,
    /// for example to the FakeTimeProvider a test registers for the real services too, so that advancing it fails a
    /// call at its deadline without waiting.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Gets a copy of the calls so far, oldest first (a batch call is one entry).</summary>
    public IReadOnlyList<FakePredictorCall<TInput>> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>Gets the number of calls so far (a batch call counts once).</summary>
    public int CallCount
    {
        get
        {
            lock (_gate)
            {
                return _calls.Count;
            }
        }
    }

    /// <summary>Gets the most recent call.</summary>
    /// <exception cref="InvalidOperationException">There has been no call.</exception>
    public FakePredictorCall<TInput> LastCall
    {
        get
        {
            lock (_gate)
            {
                return _calls.Count > 0
                    ? _calls[^1]
                    : throw new InvalidOperationException($"FakePredictor '{ModelName}' has not been called.");
            }
        }
    }

    /// <summary>Gets the inputs of every call so far, in call order (a batch call's inputs in their order).</summary>
    public IReadOnlyList<TInput> Inputs
    {
        get
        {
            lock (_gate)
            {
                return _calls.SelectMany(c => c.Inputs).ToList();
            }
        }
    }

    /// <summary>Gets the number of queued answers and exceptions not yet consumed.</summary>
    public int PendingAnswers
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Sets the function that answers every input the queue does not.</summary>
    /// <param name="answer">Computes the output of one input; may throw.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="answer"/> is null.</exception>
    public FakePredictor<TInput, TOutput> AnswerWith(Func<TInput, TOutput> answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return AnswerWith((input, _) => ValueTask.FromResult(answer(input)));
    }

    /// <summary>Sets an asynchronous answer function, for example one that waits on a task the test completes, to hold calls in flight.</summary>
    /// <param name="answer">Computes the output of one input; receives the call's cancellation token.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="answer"/> is null.</exception>
    public FakePredictor<TInput, TOutput> AnswerWith(Func<TInput, CancellationToken, ValueTask<TOutput>> answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        lock (_gate)
        {
            _answer = answer;
        }

        return this;
    }

    /// <summary>Answers every input the queue does not with the same output.</summary>
    /// <param name="output">The output (the same instance every time).</param>
    /// <returns>This fake.</returns>
    public FakePredictor<TInput, TOutput> Returns(TOutput output) => AnswerWith(_ => output);

    /// <summary>Fails every input the queue does not answer with <paramref name="exception"/>, e.g. a <see cref="ModelNotReadyException"/>.</summary>
    /// <param name="exception">The exception (the same instance every time).</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    public FakePredictor<TInput, TOutput> Throws(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return AnswerWith(_ => throw exception);
    }

    /// <summary>Queues answers, consumed one per input in order before the answer function is used.</summary>
    /// <param name="outputs">The outputs.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="outputs"/> is null.</exception>
    public FakePredictor<TInput, TOutput> EnqueueRange(IEnumerable<TOutput> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        lock (_gate)
        {
            foreach (var output in outputs)
            {
                _queue.Enqueue(_ => output);
            }
        }

        return this;
    }

    /// <summary>Queues one answer.</summary>
    /// <param name="output">The output.</param>
    /// <returns>This fake.</returns>
    public FakePredictor<TInput, TOutput> Enqueue(TOutput output) => EnqueueRange([output]);

    /// <summary>Queues a failure: the input that consumes it fails with <paramref name="exception"/>.</summary>
    /// <param name="exception">The exception, e.g. <c>new ModelOverloadedException("iris", "queue full", TimeSpan.FromSeconds(1))</c>.</param>
    /// <returns>This fake.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    public FakePredictor<TInput, TOutput> EnqueueException(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        lock (_gate)
        {
            _queue.Enqueue(_ => throw exception);
        }

        return this;
    }

    /// <summary>Forgets the recorded calls; the answers and the queue are kept.</summary>
    public void ClearCalls()
    {
        lock (_gate)
        {
            _calls.Clear();
        }
    }

    /// <summary>Forgets the recorded calls, the queue and the answer function.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _calls.Clear();
            _queue.Clear();
            _answer = null;
        }
    }

    /// <inheritdoc/>
    public ValueTask<TOutput> PredictAsync(TInput input, CancellationToken cancellationToken = default) =>
        PredictOneAsync(input, null, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<TOutput> PredictAsync(TInput input, PredictionOptions options, CancellationToken cancellationToken = default)
    {
        // As the real predictor: argument errors in the options are thrown by the call itself.
        ArgumentNullException.ThrowIfNull(options);
        if (options.Timeout is { } timeout && (timeout < TimeSpan.Zero || timeout > MaxTimeout))
        {
            throw new ArgumentOutOfRangeException(nameof(options), timeout, string.Create(CultureInfo.InvariantCulture, $"PredictionOptions.Timeout must be between 0 and {MaxTimeout.TotalDays:0} days."));
        }

        return PredictOneAsync(input, options, cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<TOutput>> PredictBatchAsync(IReadOnlyList<TInput> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var copy = inputs.ToArray();
        Record(new FakePredictorCall<TInput>(copy, null, isBatch: true));

        // The real batch call's order: every input is validated first (the token looked at every 1,024 rows), then
        // the token is checked before each run.
        for (var i = 0; i < copy.Length; i++)
        {
            if ((i & 1023) == 1023)
            {
                // As the real batch: a cancellation is seen within 1,024 rows of validation.
                cancellationToken.ThrowIfCancellationRequested();
            }

            if (copy[i] is null)
            {
                throw NullInput().AtIndex(i);
            }
        }

        if (copy.Length == 0)
        {
            return [];
        }

        cancellationToken.ThrowIfCancellationRequested();
        var (queued, answer) = Take(copy.Length);
        var outputs = new TOutput[copy.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                outputs[i] = i < queued.Length ? queued[i](copy[i]) : await Answer(answer, copy[i], cancellationToken).ConfigureAwait(false);
            }
            catch (ModelInputException ex) when (ex.Index < 0)
            {
                throw ex.AtIndex(i);
            }
            catch (ModelNonFiniteOutputException ex) when (ex.Index < 0)
            {
                throw ex.AtIndex(i);
            }
        }

        return outputs;
    }

    /// <summary>The real single call's order (ValidationStage, then SessionStage): the input, then the token, then the answer; every failure through the task.</summary>
    private ValueTask<TOutput> PredictOneAsync(TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        Record(new FakePredictorCall<TInput>([input], options, isBatch: false));
        if (input is null)
        {
            return ValueTask.FromException<TOutput>(NullInput());
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TOutput>(cancellationToken);
        }

        if (options?.Timeout is { } timeout)
        {
            return AnswerWithDeadlineAsync(input, timeout, cancellationToken);
        }

        try
        {
            var (queued, answer) = Take(1);
            return queued.Length > 0 ? ValueTask.FromResult(queued[0](input)) : Answer(answer, input, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TOutput>(cancellationToken);
        }
#pragma warning disable CA1031 // As the real predictor: every failure is reported through the task.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<TOutput>(ex);
        }
    }

    /// <summary>
    /// The real session stage's deadline (SessionStage.RunWithDeadlineAsync): the answer runs under a token canceled at
    /// the deadline and is abandoned there (as ONNX Runtime's terminate flag stops a run), failing with
    /// <see cref="ModelDeadlineExceededException"/> and its message; a deadline already passed answers nothing and
    /// consumes no queued entry. Canceling <paramref name="cancellationToken"/> is a cancellation, not a deadline.
    /// </summary>
    private async ValueTask<TOutput> AnswerWithDeadlineAsync(TInput input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout == TimeSpan.Zero)
        {
            throw DeadlineExceeded(timeout); // already past: as the real one, at once, whatever the clock
        }

        using var deadline = new CancellationTokenSource(timeout, TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            linked.Token.ThrowIfCancellationRequested();
            var (queued, answer) = Take(1);
            return queued.Length > 0
                ? queued[0](input)
                : await Answer(answer, input, linked.Token).AsTask().WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw DeadlineExceeded(timeout);
        }
    }

    private ModelDeadlineExceededException DeadlineExceeded(TimeSpan timeout) =>
        new(ModelName, string.Create(CultureInfo.InvariantCulture, $"Request to model '{ModelName}' exceeded its {timeout.TotalMilliseconds:0} ms deadline."), timeout);

    /// <summary>Takes up to <paramref name="count"/> queued entries as one block (a concurrent call cannot take any in between) and the answer function.</summary>
    private (Func<TInput, TOutput>[] Queued, Func<TInput, CancellationToken, ValueTask<TOutput>>? Answer) Take(int count)
    {
        lock (_gate)
        {
            var queued = new Func<TInput, TOutput>[Math.Min(count, _queue.Count)];
            for (var i = 0; i < queued.Length; i++)
            {
                queued[i] = _queue.Dequeue();
            }

            return (queued, _answer);
        }
    }

    private ValueTask<TOutput> Answer(Func<TInput, CancellationToken, ValueTask<TOutput>>? answer, TInput input, CancellationToken cancellationToken) =>
        answer is not null
            ? answer(input, cancellationToken)
            : throw new InvalidOperationException(
                $"FakePredictor '{ModelName}' has no answer for this input: its queue is empty and no answer function is set (call AnswerWith, Returns, Throws or Enqueue).");

    private void Record(FakePredictorCall<TInput> call)
    {
        lock (_gate)
        {
            _calls.Add(call);
        }
    }

    /// <summary>The real predictor's reason names the input type (TypedBinder.Validate): <c>the IrisInput is null</c>.</summary>
    private ModelInputException NullInput() => new(ModelName, null, $"the {typeof(TInput).Name} is null");
}
