using ModelInService.Schema;
using ModelInService.Hosting;

namespace ModelInService.Batching;

/// <summary>Runs batches on the model's current runtime, holding one of its run slots for the duration.</summary>
internal sealed class RuntimeBatchExecutor<TInput, TOutput>(ModelHost host) : IBatchExecutor<TInput, TOutput>
{
    private TypedBinder<TInput, TOutput> Binder => (TypedBinder<TInput, TOutput>)host.Runtime.Binder!;

    public int MaxRowsPerRun => Binder.Batchable ? host.Options.MaxRowsPerRun : 1;

    public long BucketOf(TInput input) => Binder.BucketOf(input);

    public void Answered(ReadOnlySpan<TInput> inputs, TOutput[] outputs)
    {
        // The monitor sees every row the model answered, recorded once per batch on the worker: no continuation per
        // request (see ModelHost.RecordsInBatches).
        if (host.RecordsInBatches && host.Recorder is IPredictionRecorder<TInput, TOutput> recorder)
        {
            recorder.RecordBatch(inputs, outputs);
        }
    }

    /// <summary>Counts rows whose outputs were non-finite for the monitor, like rejected inputs; returns false.</summary>
    private bool NoteNonFinite(int rows)
    {
        if (host.RecordsInBatches && host.Recorder is Monitoring.IRejectionRecorder recorder)
        {
            recorder.RecordRejected(rows);
        }

        return false;
    }

    public async ValueTask<TOutput[]> ExecuteAsync(ReadOnlyMemory<TInput> rows, CancellationToken cancellationToken)
    {
        // Follows reloads: queued requests run on whichever generation serves when their batch starts.
        var runtime = await host.EnterCurrentAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var binder = (TypedBinder<TInput, TOutput>)runtime.Binder!;
            var chunk = binder.Batchable ? host.Options.MaxRowsPerRun : 1;
            TOutput[] outputs;
            if (rows.Length <= chunk)
            {
                outputs = binder.Run(runtime, rows.Span, cancellationToken);
            }
            else
            {
                // The batch was formed for another generation (a reload swapped in a model with a fixed batch
                // dimension, say): run it in pieces this generation accepts.
                outputs = new TOutput[rows.Length];
                ModelNonFiniteOutputException?[]? failures = null;
                for (var start = 0; start < rows.Length; start += chunk)
                {
                    var count = Math.Min(chunk, rows.Length - start);
                    try
                    {
                        binder.Run(runtime, rows.Span.Slice(start, count), cancellationToken).CopyTo(outputs, start);
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
                    throw new PartialOutputException<TOutput>(binder.ModelName, outputs, failures);
                }
            }

            return outputs;
        }
        catch (ModelNonFiniteOutputException) when (NoteNonFinite(1))
        {
            throw; // never reached: the filter only counts the row for the monitor
        }
        catch (PartialOutputException<TOutput> partial) when (NoteNonFinite(partial.FailedCount))
        {
            throw; // never reached
        }
        finally
        {
            runtime.Exit();
        }
    }
}
