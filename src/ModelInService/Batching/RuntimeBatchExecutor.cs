using ModelInService.Monitoring;
using ModelInService.Schema;
using ModelInService.Sessions;

namespace ModelInService.Batching;

/// <summary>
/// Runs the batcher's batches on the serving generation, holding one of its run slots for the duration. When
/// <paramref name="recorder"/> is set (a monitored model that batches without a cache: every answer is a batch row)
/// it records each batch the model answered, once, on the worker — decided when the chain was built.
/// </summary>
internal sealed class RuntimeBatchExecutor<TInput, TOutput>(IGenerationSource source, PredictionRecorder<TInput, TOutput>? recorder) : IBatchExecutor<TInput, TOutput>
{
    public int MaxRowsPerRun => Serving<TInput, TOutput>.Of(source.Current).Binder.Batchable ? source.MaxRowsPerRun : 1;

    public async ValueTask<TOutput[]> ExecuteAsync(ReadOnlyMemory<TInput> rows, CancellationToken cancellationToken)
    {
        // Follows reloads: queued requests run on whichever generation serves when their batch starts.
        var runtime = await source.EnterCurrentAsync(cancellationToken).ConfigureAwait(false);
        TOutput[] outputs;
        try
        {
            outputs = Run(Serving<TInput, TOutput>.Of(runtime), rows.Span, cancellationToken);
        }
        catch (ModelNonFiniteOutputException)
        {
            recorder?.RecordRejected(1);
            throw;
        }
        catch (PartialOutputException<TOutput> partial)
        {
            recorder?.RecordRejected(partial.FailedCount);
            throw;
        }
        finally
        {
            runtime.Exit();
        }

        // Recorded before the callers see their results (like a direct run), so a caller that awaited its answer and
        // then flushes the monitor finds it there; recording a batch costs microseconds (long vectors are capped).
        recorder?.RecordBatch(rows.Span, outputs, runtime.Info.Sha256);
        return outputs;
    }

    private TOutput[] Run(Serving<TInput, TOutput> serving, ReadOnlySpan<TInput> rows, CancellationToken cancellationToken)
    {
        var chunk = serving.Binder.Batchable ? source.MaxRowsPerRun : 1;
        if (rows.Length <= chunk)
        {
            return serving.Run(rows, cancellationToken);
        }

        // The batch was formed for another generation (a reload swapped in a model with a fixed batch dimension,
        // say): run it in pieces this generation accepts.
        var outputs = new TOutput[rows.Length];
        ModelNonFiniteOutputException?[]? failures = null;
        for (var start = 0; start < rows.Length; start += chunk)
        {
            var count = Math.Min(chunk, rows.Length - start);
            try
            {
                serving.Run(rows.Slice(start, count), cancellationToken).CopyTo(outputs, start);
            }
            catch (ModelNonFiniteOutputException failure)
            {
                (failures ??= new ModelNonFiniteOutputException?[rows.Length])[start] = failure;
            }
            catch (PartialOutputException<TOutput> partial)
            {
                partial.Outputs.CopyTo(outputs, start);
                partial.Failures.CopyTo(failures ??= new ModelNonFiniteOutputException?[rows.Length], start);
            }
        }

        if (failures is not null)
        {
            throw new PartialOutputException<TOutput>(serving.Binder.ModelName, outputs, failures);
        }

        return outputs;
    }
}
