using System.Diagnostics;
using ModelInService.Batching;
using ModelInService.Caching;
using ModelInService.Telemetry;
using ModelInService.Schema;
using ModelInService.Hosting;
using ModelInService.Sessions;

namespace ModelInService;

/// <summary>
/// The typed predictor. The fast path (a free slot) validates, packs, runs and unpacks synchronously on the caller's
/// thread and returns a completed <see cref="ValueTask{TResult}"/>: no task, no closure, no thread hop. Only when every
/// slot is busy does it await one.
/// </summary>
[DebuggerDisplay("IPredictor<{typeof(TInput).Name,nq}, {typeof(TOutput).Name,nq}> for {ModelName}")]
internal sealed class Predictor<TInput, TOutput> : IPredictor<TInput, TOutput>
{
    private readonly ModelHost _host;

    /// <summary>The uncached path (batcher or direct run), handed to the cache for misses; allocated once.</summary>
    private readonly Func<TInput, PredictionOptions?, CancellationToken, ValueTask<TOutput>> _compute;

    /// <summary>Answers when the model cannot (failure, deadline, overload, not loaded); null when none is configured.</summary>
    private readonly Func<TInput, Exception, CancellationToken, ValueTask<TOutput>>? _fallback;

    public Predictor(ModelHost host, Func<TInput, Exception, CancellationToken, ValueTask<TOutput>>? fallback = null)
    {
        _host = host;
        _fallback = fallback;
        _compute = ComputeValidated;
    }

    public string ModelName => _host.Name;

    public ValueTask<TOutput> PredictAsync(TInput input, CancellationToken cancellationToken = default)
    {
        var started = _host.Metrics is null ? 0 : Stopwatch.GetTimestamp();
        var prediction = Predict(input, null, cancellationToken, out var batched);
        return Observed(input, prediction, started, batched);
    }

    public ValueTask<TOutput> PredictAsync(TInput input, PredictionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Timeout is { } timeout && (timeout < TimeSpan.Zero || timeout > BatchingOptionsValidator.MaxTimer))
        {
            throw new ArgumentOutOfRangeException(nameof(options), timeout, $"PredictionOptions.Timeout must be between 0 and {BatchingOptionsValidator.MaxTimer.TotalDays:0} days.");
        }

        var started = _host.Metrics is null ? 0 : Stopwatch.GetTimestamp();
        var prediction = Predict(input, options, cancellationToken, out var batched);
        return Observed(input, prediction, started, batched);
    }

    /// <summary>
    /// Counts the outcome and duration (metrics) and hands successful predictions to the recorder (the monitor).
    /// Without either attached the prediction is returned untouched; a completed one is observed without awaiting.
    /// </summary>
    /// <remarks>
    /// A prediction the batcher ran (<paramref name="recordedByBatcher"/>) is recorded by the batch executor, once per
    /// batch, on the worker: that keeps an extra continuation off every batched request when only monitoring is on.
    /// </remarks>
    private ValueTask<TOutput> Observed(TInput input, ValueTask<TOutput> prediction, long started, bool recordedByBatcher)
    {
        var metrics = _host.Metrics;
        var recorder = _host.Recorder as IPredictionRecorder<TInput, TOutput>;
        if (recordedByBatcher)
        {
            // The batch executor records every row it answers before completing the request: a batched prediction
            // that happens to be complete already by now must not be recorded a second time here.
            recorder = null;
        }

        if (metrics is null && recorder is null && _fallback is null)
        {
            return prediction;
        }

        if (prediction.IsCompletedSuccessfully)
        {
            var output = prediction.Result;
            recorder?.Record(input, output);
            metrics?.RequestCompleted(ModelName, Outcomes.Success, started);
            return new ValueTask<TOutput>(output);
        }

        // Counted until recorded, so the monitor's final snapshot at shutdown waits for this prediction.
        var slot = recorder is not null ? _host.BeginRecording() : -1;
        return ObserveWhenDoneAsync(input, prediction, started, metrics, recorder, slot, recordedByBatcher);
    }

    /// <summary>Counts a rejected input for the monitor (schema-violation rule); returns false so the exception propagates unchanged.</summary>
    private bool NoteRejected()
    {
        (_host.Recorder as Monitoring.IRejectionRecorder)?.RecordRejected();
        return false;
    }

    /// <summary>The model could not answer a valid input; the caller's own cancellation and bad input are not fallback cases.</summary>
    private static bool UsesFallback(Exception error) =>
        error is ModelInferenceException or ModelDeadlineExceededException or ModelOverloadedException or ModelNotReadyException or ModelLoadException;

    /// <summary>
    /// Counts a non-finite output for the monitor (with the rejected inputs) unless the batch executor counted it;
    /// returns false so the exception goes on to the fallback or the caller.
    /// </summary>
    private bool NoteNonFinite(Exception error, bool recordedByBatcher)
    {
        if (error is ModelNonFiniteOutputException && !recordedByBatcher)
        {
            (_host.Recorder as Monitoring.IRejectionRecorder)?.RecordRejected();
        }

        return false;
    }

    private async ValueTask<TOutput> ObserveWhenDoneAsync(TInput input, ValueTask<TOutput> prediction, long started, ModelMetrics? metrics, IPredictionRecorder<TInput, TOutput>? recorder, int slot, bool recordedByBatcher)
    {
        TOutput output;
        try
        {
            try
            {
                output = await prediction.ConfigureAwait(false);
            }
            catch (Exception ex) when (NoteNonFinite(ex, recordedByBatcher))
            {
                throw; // never reached: the filter only counts the failure
            }
            catch (Exception ex) when (_fallback is not null && UsesFallback(ex))
            {
                var answer = await _fallback(input, ex, CancellationToken.None).ConfigureAwait(false);
                metrics?.RequestCompleted(ModelName, Outcomes.Fallback, started);
                return answer;
            }
            catch (Exception ex)
            {
                metrics?.RequestCompleted(ModelName, Outcomes.Of(ex), started);
                throw;
            }

            recorder?.Record(input, output);
        }
        finally
        {
            if (slot >= 0)
            {
                _host.EndRecording(slot);
            }
        }

        metrics?.RequestCompleted(ModelName, Outcomes.Success, started);
        return output;
    }

    /// <summary>Validates, routes (canary, shadow) and serves one prediction.</summary>
    /// <param name="input">The input.</param>
    /// <param name="options">Per-call options, or null.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <param name="recordedByBatcher">Set when the request was queued in the batcher of a model without a cache: the batch executor records it.</param>
    private ValueTask<TOutput> Predict(TInput input, PredictionOptions? options, CancellationToken cancellationToken, out bool recordedByBatcher)
    {
        recordedByBatcher = false;
        ModelRuntime runtime;
        TypedBinder<TInput, TOutput> binder;
        try
        {
            runtime = _host.Runtime;
            binder = (TypedBinder<TInput, TOutput>)runtime.Binder!;
            try
            {
                binder.Validate(input);
            }
            catch (ModelInputException) when (NoteRejected())
            {
                throw; // never reached: the filter only counts the rejection for the monitor's schema rule
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<TOutput>(cancellationToken);
            }

            if (_host.Candidate is { } candidate)
            {
                if (candidate.Mode == CandidateMode.Canary && candidate.Routes(options?.RoutingKey))
                {
                    return RunOnCandidateAsync(candidate, input, cancellationToken);
                }

                if (candidate.Mode == CandidateMode.Shadow)
                {
                    recordedByBatcher = _host.RecordsInBatches;
                    return Shadowed(candidate, input, PredictServing(runtime, binder, input, options, cancellationToken));
                }
            }

            recordedByBatcher = _host.RecordsInBatches;
            return PredictServing(runtime, binder, input, options, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TOutput>(cancellationToken);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<TOutput>(ex);
        }
    }

    /// <summary>The serving version's path: cache (outermost), then the batcher or a direct run.</summary>
    private ValueTask<TOutput> PredictServing(ModelRuntime runtime, TypedBinder<TInput, TOutput> binder, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        try
        {
            // Outermost layer: the cache sees only validated inputs, so it never hides a validation error.
            if (_host.Cache is PredictionCache<TInput, TOutput> cache && cache.Accepts(input))
            {
                return cache.GetOrComputeAsync(runtime, binder, input, options, _compute, cancellationToken);
            }

            return Compute(runtime, binder, input, options, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TOutput>(cancellationToken);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<TOutput>(ex);
        }
    }

    /// <summary>A canary request: runs directly on the candidate (its own slots), counted.</summary>
    private static async ValueTask<TOutput> RunOnCandidateAsync(CandidateState candidate, TInput input, CancellationToken cancellationToken)
    {
        var runtime = candidate.Runtime;
        if (!runtime.TryEnter())
        {
            await runtime.EnterAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var output = ((TypedBinder<TInput, TOutput>)runtime.Binder!).Run(runtime, new ReadOnlySpan<TInput>(ref input), cancellationToken)[0];
            candidate.Ran(failed: false);
            return output;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            candidate.Ran(failed: true);
            throw;
        }
        finally
        {
            runtime.Exit();
        }
    }

    /// <summary>Shadow: once the serving answer is ready, mirror the request to the candidate off the request path.</summary>
    private static ValueTask<TOutput> Shadowed(CandidateState candidate, TInput input, ValueTask<TOutput> serving)
    {
        if (serving.IsCompletedSuccessfully)
        {
            Mirror(candidate, input, serving.Result);
            return serving;
        }

        return AwaitThenMirrorAsync(candidate, input, serving);

        static async ValueTask<TOutput> AwaitThenMirrorAsync(CandidateState candidate, TInput input, ValueTask<TOutput> serving)
        {
            var output = await serving.ConfigureAwait(false);
            Mirror(candidate, input, output);
            return output;
        }
    }

    private static void Mirror(CandidateState candidate, TInput input, TOutput served)
    {
        var runtime = candidate.Runtime;
        var binder = (TypedBinder<TInput, TOutput>)runtime.Binder!;
        var expected = binder.Copier.Clone(served); // the caller may mutate its answer before we compare
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            var (candidate, input, expected) = state;
            var runtime = candidate.Runtime;
            bool entered;
            try
            {
                entered = runtime.TryEnter();
            }
            catch (ModelNotReadyException)
            {
                return; // the shadow ended
            }

            if (!entered)
            {
                candidate.Skip(); // never queue behind the candidate: shadow must not cost serving capacity
                return;
            }

            try
            {
                var binder = (TypedBinder<TInput, TOutput>)runtime.Binder!;
                var actual = binder.Run(runtime, new ReadOnlySpan<TInput>(ref input), CancellationToken.None)[0];
                candidate.Ran(failed: false);
                candidate.Compared(binder.Copier.Agrees(expected, actual));
            }
#pragma warning disable CA1031 // A failing candidate is counted, never surfaced to callers.
            catch (Exception)
#pragma warning restore CA1031
            {
                candidate.Ran(failed: true);
            }
            finally
            {
                runtime.Exit();
            }
        }, (candidate, input, expected), preferLocal: false);
    }

    private ValueTask<TOutput> ComputeValidated(TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        try
        {
            var runtime = _host.Runtime;
            return Compute(runtime, (TypedBinder<TInput, TOutput>)runtime.Binder!, input, options, cancellationToken);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<TOutput>(ex);
        }
    }

    /// <summary>Runs a validated input through the batcher, or directly on a free slot.</summary>
    private ValueTask<TOutput> Compute(ModelRuntime runtime, TypedBinder<TInput, TOutput> binder, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        try
        {
            if (_host.Batcher is DynamicBatcher<TInput, TOutput> batcher)
            {
                // Invalid input was rejected above: it never enters the queue or a batch.
                return batcher.EnqueueAsync(input, options, cancellationToken);
            }

            if (options?.Timeout is { } timeout)
            {
                return RunWithDeadlineAsync(input, timeout, cancellationToken);
            }

            // The generation may have been swapped by a reload since it was read: enter whichever serves now.
            if (_host.TryEnterCurrent(out var current))
            {
                try
                {
                    return new ValueTask<TOutput>(((TypedBinder<TInput, TOutput>)current.Binder!).Run(current, new ReadOnlySpan<TInput>(ref input), cancellationToken)[0]);
                }
                finally
                {
                    current.Exit();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TOutput>(cancellationToken);
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<TOutput>(ex);
        }

        return WaitAndRunAsync(input, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<TOutput>> PredictBatchAsync(IReadOnlyList<TInput> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var recorder = _host.Recorder as IPredictionRecorder<TInput, TOutput>;
        if (recorder is null)
        {
            return await PredictBatchCoreAsync(inputs, null, cancellationToken).ConfigureAwait(false);
        }

        var slot = _host.BeginRecording();
        try
        {
            return await PredictBatchCoreAsync(inputs, recorder, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _host.EndRecording(slot);
        }
    }

    private async ValueTask<IReadOnlyList<TOutput>> PredictBatchCoreAsync(IReadOnlyList<TInput> inputs, IPredictionRecorder<TInput, TOutput>? recorder, CancellationToken cancellationToken)
    {
        var runtime = _host.Runtime;
        var binder = (TypedBinder<TInput, TOutput>)runtime.Binder!;
        var rows = new TInput[inputs.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = inputs[i];
            try
            {
                binder.Validate(rows[i]);
            }
            catch (ModelInputException ex)
            {
                throw ex.AtIndex(i);
            }
        }

        var results = new TOutput[rows.Length];
        var chunk = binder.Batchable ? _host.Options.MaxRowsPerRun : 1;

        // Rows whose free dimension differs (text lengths) cannot share a tensor: run each length as its own group.
        var first = rows.Length > 0 ? binder.BucketOf(rows[0]) : 0;
        var mixed = false;
        for (var i = 1; i < rows.Length && !mixed; i++)
        {
            mixed = binder.BucketOf(rows[i]) != first;
        }

        if (!mixed)
        {
            await RunChunksAsync(_host, rows, null, results, chunk, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var groups = new Dictionary<long, List<int>>();
            for (var i = 0; i < rows.Length; i++)
            {
                var key = binder.BucketOf(rows[i]);
                if (!groups.TryGetValue(key, out var list))
                {
                    groups[key] = list = [];
                }

                list.Add(i);
            }

            foreach (var indices in groups.Values)
            {
                var groupRows = new TInput[indices.Count];
                for (var i = 0; i < groupRows.Length; i++)
                {
                    groupRows[i] = rows[indices[i]];
                }

                await RunChunksAsync(_host, groupRows, indices, results, chunk, cancellationToken).ConfigureAwait(false);
            }
        }

        if (recorder is not null)
        {
            for (var i = 0; i < rows.Length; i++)
            {
                recorder.Record(rows[i], results[i]);
            }
        }

        return results;
    }

    private async ValueTask<TOutput> RunWithDeadlineAsync(TInput input, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, _host.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            return await WaitAndRunAsync(input, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ModelDeadlineExceededException(ModelName, $"Request to model '{ModelName}' exceeded its {timeout.TotalMilliseconds:0} ms deadline.", timeout);
        }
    }

    /// <summary>Runs <paramref name="rows"/> in chunks; output i goes to results[indices?[i] ?? i].</summary>
    private static async Task RunChunksAsync(ModelHost host, TInput[] rows, List<int>? indices, TOutput[] results, int chunk, CancellationToken cancellationToken)
    {
        for (var start = 0; start < rows.Length; start += chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = Math.Min(chunk, rows.Length - start);
            var runtime = await host.EnterCurrentAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var outputs = ((TypedBinder<TInput, TOutput>)runtime.Binder!).Run(runtime, new ReadOnlySpan<TInput>(rows, start, count), cancellationToken);
                for (var i = 0; i < count; i++)
                {
                    results[indices is null ? start + i : indices[start + i]] = outputs[i];
                }
            }
            catch (ModelInputException ex) when (ex.Index >= 0)
            {
                throw ex.AtIndex(indices is null ? start + ex.Index : indices[start + ex.Index]);
            }
            catch (ModelNonFiniteOutputException ex)
            {
                // A chunk of one row (a model that cannot batch): that row's output was non-finite.
                (host.Recorder as Monitoring.IRejectionRecorder)?.RecordRejected();
                throw ex.AtIndex(indices is null ? start : indices[start]);
            }
            catch (PartialOutputException<TOutput> partial)
            {
                // The call returns all rows or none: it fails with the first row whose output was non-finite.
                (host.Recorder as Monitoring.IRejectionRecorder)?.RecordRejected(partial.FailedCount);
                for (var i = 0; i < count; i++)
                {
                    if (partial.Failures[i] is { } failure)
                    {
                        throw failure.AtIndex(indices is null ? start + i : indices[start + i]);
                    }
                }

                throw;
            }
            finally
            {
                runtime.Exit();
            }
        }
    }

    private async ValueTask<TOutput> WaitAndRunAsync(TInput input, CancellationToken cancellationToken)
    {
        var runtime = await _host.EnterCurrentAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return ((TypedBinder<TInput, TOutput>)runtime.Binder!).Run(runtime, new ReadOnlySpan<TInput>(ref input), cancellationToken)[0];
        }
        finally
        {
            runtime.Exit();
        }
    }
}
