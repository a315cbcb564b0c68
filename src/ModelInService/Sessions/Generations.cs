using ModelInService.Schema;

namespace ModelInService.Sessions;

/// <summary>
/// Where the serving generation comes from (the model's host): the stages below the chain's head never see the host,
/// only this — to follow a reload when the generation their snapshot names was retired before they entered it.
/// </summary>
internal interface IGenerationSource
{
    /// <summary>The model's name, for errors.</summary>
    string Name { get; }

    /// <summary>The generation serving now; throws what prevents serving (not loaded, failed, stopped).</summary>
    ModelRuntime Current { get; }

    /// <summary>The most rows one run may take for a batchable model (<see cref="ModelOptions.MaxRowsPerRun"/>).</summary>
    int MaxRowsPerRun { get; }

    /// <summary>The clock for deadlines.</summary>
    TimeProvider Time { get; }

    /// <summary>Takes a run slot on the serving generation without waiting, following a reload that retired the one it found.</summary>
    bool TryEnterCurrent(out ModelRuntime runtime);

    /// <summary>Waits for a run slot on the serving generation, following reloads.</summary>
    ValueTask<ModelRuntime> EnterCurrentAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Counts swaps of the serving generation (reload, rollback, promotion, stop) like a sequence lock: incremented
    /// before and after each swap, so it is odd while one is under way. A caller that read an even value, then found
    /// its generation serving, and reads the same value after its run knows that the run used that generation (runs
    /// follow reloads: a queued request runs on whichever generation serves when its batch starts).
    /// </summary>
    long Swaps { get; }

    /// <summary>Whether <paramref name="runtime"/> is the generation serving now.</summary>
    bool IsServing(ModelRuntime runtime);
}

/// <summary>
/// One call's snapshot of a generation: the runtime and its binder, typed. Taken once at the top of the chain (one
/// read, one cast) and passed down, so no stage reads the host or casts the binder again.
/// </summary>
/// <typeparam name="TInput">The input type.</typeparam>
/// <typeparam name="TOutput">The output type.</typeparam>
internal readonly struct Serving<TInput, TOutput>
{
    private Serving(ModelRuntime runtime, TypedBinder<TInput, TOutput> binder, Exception? error)
    {
        Runtime = runtime;
        Binder = binder;
        Error = error;
    }

    /// <summary>The generation; null when <see cref="Error"/> is set.</summary>
    public ModelRuntime Runtime { get; }

    /// <summary>Its binder; null when <see cref="Error"/> is set.</summary>
    public TypedBinder<TInput, TOutput> Binder { get; }

    /// <summary>
    /// Why nothing serves (not loaded, failed, stopped), or null. Carried down instead of thrown at the top, so the
    /// stages above the first one that needs the generation (fallback, metrics) see the failure like any other.
    /// </summary>
    public Exception? Error { get; }

    /// <summary>The snapshot of <paramref name="runtime"/>, whose binder was built for these types at registration.</summary>
    public static Serving<TInput, TOutput> Of(ModelRuntime runtime) => new(runtime, (TypedBinder<TInput, TOutput>)runtime.Binder!, null);

    /// <summary>Takes the snapshot of whatever serves now, or one that carries the reason nothing does.</summary>
    public static Serving<TInput, TOutput> Take(IGenerationSource source)
    {
        try
        {
            return Of(source.Current);
        }
#pragma warning disable CA1031 // Carried to the caller through the chain.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return new(null!, null!, ex);
        }
    }

    /// <summary>Runs <paramref name="rows"/> on this generation; the caller holds a run slot on it.</summary>
    public TOutput[] Run(ReadOnlySpan<TInput> rows, CancellationToken cancellationToken) => Binder.Run(Runtime, rows, cancellationToken);
}

/// <summary>The one enter → run → exit of the package: every typed run takes its slot and gives it back here.</summary>
internal static class Runs
{
    /// <summary>
    /// Runs one row now when a slot is free: on the snapshot's generation, or — when a reload retired it between the
    /// snapshot and here — on whichever serves now. False when every slot is busy (nothing ran).
    /// </summary>
    public static bool TryRunNow<TInput, TOutput>(IGenerationSource source, in Serving<TInput, TOutput> serving, TInput input, CancellationToken cancellationToken, out TOutput output)
    {
        var runtime = serving.Runtime;
        bool entered;
        try
        {
            entered = runtime.TryEnter();
        }
        catch (ModelNotReadyException)
        {
            // Retired by a reload after the snapshot: the generation serving now answers.
            entered = source.TryEnterCurrent(out runtime);
        }

        if (!entered)
        {
            output = default!;
            return false;
        }

        try
        {
            var run = ReferenceEquals(runtime, serving.Runtime) ? serving : Serving<TInput, TOutput>.Of(runtime);
            output = run.Run(new ReadOnlySpan<TInput>(ref input), cancellationToken)[0];
            return true;
        }
        finally
        {
            runtime.Exit();
        }
    }

    /// <summary>Waits for a slot on the serving generation (following reloads) and runs <paramref name="rows"/> there.</summary>
    public static async ValueTask<TOutput[]> RunAsync<TInput, TOutput>(IGenerationSource source, ReadOnlyMemory<TInput> rows, CancellationToken cancellationToken)
    {
        var runtime = await source.EnterCurrentAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return Serving<TInput, TOutput>.Of(runtime).Run(rows.Span, cancellationToken);
        }
        finally
        {
            runtime.Exit();
        }
    }

    /// <summary>Waits for a slot on the serving generation (following reloads) and runs one row there.</summary>
    public static async ValueTask<TOutput> RunOneAsync<TInput, TOutput>(IGenerationSource source, TInput input, CancellationToken cancellationToken)
    {
        var runtime = await source.EnterCurrentAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return Serving<TInput, TOutput>.Of(runtime).Run(new ReadOnlySpan<TInput>(ref input), cancellationToken)[0];
        }
        finally
        {
            runtime.Exit();
        }
    }

    /// <summary>Waits for a slot on <paramref name="runtime"/> itself (a candidate: never another generation) and runs one row.</summary>
    public static async ValueTask<TOutput> RunOnAsync<TInput, TOutput>(ModelRuntime runtime, TInput input, CancellationToken cancellationToken)
    {
        if (!runtime.TryEnter())
        {
            await runtime.EnterAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return Serving<TInput, TOutput>.Of(runtime).Run(new ReadOnlySpan<TInput>(ref input), cancellationToken)[0];
        }
        finally
        {
            runtime.Exit();
        }
    }

    /// <summary>Runs one row on <paramref name="runtime"/> only if a slot is free now (shadow traffic never queues).</summary>
    public static bool TryRunOn<TInput, TOutput>(ModelRuntime runtime, TInput input, CancellationToken cancellationToken, out TOutput output)
    {
        if (!runtime.TryEnter())
        {
            output = default!;
            return false;
        }

        try
        {
            output = Serving<TInput, TOutput>.Of(runtime).Run(new ReadOnlySpan<TInput>(ref input), cancellationToken)[0];
            return true;
        }
        finally
        {
            runtime.Exit();
        }
    }
}
