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
/// then carries the item's index, as the real predictor's does.
/// </para>
/// <para>
/// Like the real predictor it throws <see cref="ArgumentNullException"/> for null options or a null list of inputs,
/// <see cref="ModelInputException"/> for a null input, and <see cref="OperationCanceledException"/> when the token is
/// already canceled (the call is still recorded). Thread-safe: configure and call it from any number of threads.
/// </para>
/// </remarks>
public sealed class FakePredictor<TInput, TOutput> : IPredictor<TInput, TOutput>
{
    private readonly object _gate = new();
    private readonly Queue<Func<TInput, TOutput>> _queue = new();
    private readonly List<FakePredictorCall<TInput>> _calls = [];
    private Func<TInput, CancellationToken, ValueTask<TOutput>>? _answer;

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
        ArgumentNullException.ThrowIfNull(options);
        return PredictOneAsync(input, options, cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<TOutput>> PredictBatchAsync(IReadOnlyList<TInput> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var copy = inputs.ToArray();
        Record(new FakePredictorCall<TInput>(copy, null, isBatch: true));
        cancellationToken.ThrowIfCancellationRequested();
        for (var i = 0; i < copy.Length; i++)
        {
            if (copy[i] is null)
            {
                throw NullInput().AtIndex(i);
            }
        }

        var outputs = new TOutput[copy.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            try
            {
                outputs[i] = await AnswerAsync(copy[i], cancellationToken).ConfigureAwait(false);
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

    private async ValueTask<TOutput> PredictOneAsync(TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        Record(new FakePredictorCall<TInput>([input], options, isBatch: false));
        cancellationToken.ThrowIfCancellationRequested();
        if (input is null)
        {
            throw NullInput();
        }

        return await AnswerAsync(input, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask<TOutput> AnswerAsync(TInput input, CancellationToken cancellationToken)
    {
        Func<TInput, TOutput>? queued = null;
        Func<TInput, CancellationToken, ValueTask<TOutput>>? answer;
        lock (_gate)
        {
            if (_queue.Count > 0)
            {
                queued = _queue.Dequeue();
            }

            answer = _answer;
        }

        if (queued is not null)
        {
            return ValueTask.FromResult(queued(input));
        }

        return answer is not null
            ? answer(input, cancellationToken)
            : throw new InvalidOperationException(
                $"FakePredictor '{ModelName}' has no answer for this input: its queue is empty and no answer function is set (call AnswerWith, Returns, Throws or Enqueue).");
    }

    private void Record(FakePredictorCall<TInput> call)
    {
        lock (_gate)
        {
            _calls.Add(call);
        }
    }

    private ModelInputException NullInput() => new(ModelName, null, "is null");
}
