using System.Runtime.CompilerServices;

namespace ModelInService.Batching;

internal sealed partial class DynamicBatcher<TInput, TOutput>
{
    /// <summary>Runs a formed batch: its live requests, one run per bucket, in arrival order.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // one per batch: pooled, not allocated
    private async ValueTask RunAsync(List<Request> batch, TInput[] rows)
    {
        // Requests canceled or timed out while the batch was forming never reach the model. The batch list itself
        // stays whole: the worker lets go of every request in it afterwards.
        var live = 0;
        var mixed = false;
        var bucket = 0L;
        foreach (var request in batch)
        {
            if (request.IsClaimed)
            {
                continue;
            }

            if (live++ == 0)
            {
                bucket = request.Bucket;
            }
            else
            {
                mixed |= request.Bucket != bucket;
            }
        }

        if (live == 0)
        {
            return;
        }

        if (!mixed)
        {
            await RunRangeAsync(batch, 0, batch.Count, rows).ConfigureAwait(false);
            return;
        }

        // Bucket by length: rows that cannot share a tensor run as separate sub-batches, in arrival order.
        var remaining = batch.FindAll(static r => !r.IsClaimed);
        var group = new List<Request>(remaining.Count);
        while (remaining.Count > 0)
        {
            var key = remaining[0].Bucket;
            group.Clear();
            foreach (var request in remaining)
            {
                if (request.Bucket == key)
                {
                    group.Add(request);
                }
            }

            remaining.RemoveAll(r => r.Bucket == key);
            await RunRangeAsync(group, 0, group.Count, rows).ConfigureAwait(false);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // one per batch: pooled, not allocated
    private async ValueTask RunRangeAsync(List<Request> batch, int start, int count, TInput[] rows)
    {
        // Requests answered meanwhile (canceled, timed out) are not run again, not even when a split reruns a half.
        var live = 0;
        for (var i = 0; i < count; i++)
        {
            if (!batch[start + i].IsClaimed)
            {
                live++;
            }
        }

        if (live == 0)
        {
            return;
        }

        if (live < count)
        {
            var remaining = new List<Request>(live);
            for (var i = 0; i < count; i++)
            {
                if (!batch[start + i].IsClaimed)
                {
                    remaining.Add(batch[start + i]);
                }
            }

            // A request may be claimed (timed out, canceled) between the two passes: count what was kept, not `live`
            // (the count from the first pass indexed past the list: the FsCheck schedule property found it).
            if (remaining.Count == 0)
            {
                return;
            }

            batch = remaining;
            start = 0;
            count = remaining.Count;
        }

        // The rows are copied once, into the run's buffer; the executor records what it answered itself.
        for (var i = 0; i < count; i++)
        {
            var request = batch[start + i];
            rows[i] = request.Input;
            request.Activity?.SetTag(Telemetry.ModelTracing.BatchSizeTag, count);
        }

        var started = _time.GetTimestamp();
        TOutput[] outputs;
        ModelNonFiniteOutputException?[]? failures = null;
        try
        {
            outputs = await _executor.ExecuteAsync(rows.AsMemory(0, count), _abort.Token).ConfigureAwait(false);
        }
        catch (Schema.PartialOutputException<TOutput> partial) when (partial.Outputs.Length == count)
        {
            // Some rows' outputs were non-finite (found per row at unpack): those rows fail, the others are answered.
            outputs = partial.Outputs;
            failures = partial.Failures;
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            FailRange(batch, start, count, ShuttingDown());
            return;
        }
        catch (Exception ex) when (count > 1 && ex is ModelInferenceException or ModelInputException)
        {
            // Poison isolation: the model failed on the batch; run each half so valid requests still succeed. The
            // failed run was a run: counted in batch.size and batch.compute like the halves (it was missing).
            Statistics.Batch(count, _time.GetElapsedTime(started));
            Statistics.Split();
            var half = count / 2;
            await RunRangeAsync(batch, start, half, rows).ConfigureAwait(false);
            await RunRangeAsync(batch, start + half, count - half, rows).ConfigureAwait(false);
            return;
        }
        catch (Exception ex)
        {
            // A run that failed is still a run (batch.size, batch.compute): a model whose every run fails showed none.
            Statistics.Batch(count, _time.GetElapsedTime(started));
            FailRange(batch, start, count, ex);
            return;
        }
        finally
        {
            Array.Clear(rows, 0, count);
        }

        var elapsed = _time.GetElapsedTime(started);
        Statistics.Batch(count, elapsed);
        if (_options.Adaptive)
        {
            _cost.AddBatch(count, elapsed.TotalSeconds);
        }

        if (outputs.Length != count)
        {
            FailRange(batch, start, count, new ModelInferenceException(ModelName, $"Model '{ModelName}' returned {outputs.Length} outputs for {count} inputs.", null));
            return;
        }

        Answer(batch, start, count, outputs, failures);
    }

    /// <summary>
    /// Answers a run's requests: claims each one's answer, counts the successes (statistics, pending) once for the
    /// run instead of once per request, then publishes; a caller that reads its answer finds it counted.
    /// </summary>
    private void Answer(List<Request> batch, int start, int count, TOutput[] outputs, ModelNonFiniteOutputException?[]? failures)
    {
        Span<bool> claimed = count <= 1024 ? stackalloc bool[count] : new bool[count];
        var answered = 0;
        for (var i = 0; i < count; i++)
        {
            var request = batch[start + i];
            if (failures?[i] is { } failure)
            {
                Fail(request, failure, RequestOutcome.Failed);
            }
            else if (request.TryClaim(request.Generation))
            {
                claimed[i] = true;
                answered++;
            }
        }

        if (answered == 0)
        {
            return;
        }

        Statistics.Successes(answered);
        for (var i = 0; i < count; i++)
        {
            if (claimed[i])
            {
                batch[start + i].SetResult(outputs[i]);
            }
        }

        Finished(answered);
    }

    private void FailRange(List<Request> batch, int start, int count, Exception error)
    {
        for (var i = 0; i < count; i++)
        {
            Fail(batch[start + i], error, RequestOutcome.Failed);
        }
    }
}
