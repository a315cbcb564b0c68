using ModelInService.Binding;
using ModelInService.Hosting;

namespace ModelInService.Batching;

/// <summary>Runs batches on the model's current runtime, holding one of its run slots for the duration.</summary>
internal sealed class RuntimeBatchExecutor<TInput, TOutput>(ModelHost host) : IBatchExecutor<TInput, TOutput>
{
    private TypedBinder<TInput, TOutput> Binder => (TypedBinder<TInput, TOutput>)host.Runtime.Binder!;

    public int MaxRowsPerRun => Binder.Batchable ? host.Options.MaxRowsPerRun : 1;

    public long BucketOf(TInput input) => Binder.BucketOf(input);

    public async ValueTask<TOutput[]> ExecuteAsync(ReadOnlyMemory<TInput> rows, CancellationToken cancellationToken)
    {
        var runtime = host.Runtime;
        var binder = (TypedBinder<TInput, TOutput>)runtime.Binder!;
        if (!runtime.TryEnter())
        {
            await runtime.EnterAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return binder.Run(runtime, rows.Span, cancellationToken);
        }
        finally
        {
            runtime.Exit();
        }
    }
}
