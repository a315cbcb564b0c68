using ModelInService.Monitoring;
using ModelInService.Sessions;

namespace ModelInService.Routing;

/// <summary>
/// Canary and shadow: a canary request runs directly on the candidate (its own slots, counted); under shadow the
/// serving answer is returned as usual and the request is mirrored to the candidate off the request path, never
/// queued behind it. In the chain of every typed model (a candidate can start at any time); without a candidate it
/// costs one volatile read.
/// </summary>
/// <remarks>
/// <paramref name="canaryRecorder"/> is set when the batch executor records the serving path (batching without a
/// cache, so no monitoring stage above): canary answers, which bypass the batcher, are recorded here instead.
/// </remarks>
internal sealed class RoutingStage<TInput, TOutput>(PredictionStage<TInput, TOutput> next, CandidateSlot candidates, IPredictionRecorder<TInput, TOutput>? canaryRecorder, TimeProvider time)
    : DelegatingStage<TInput, TOutput>(next)
{
    public override ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        if (candidates.Current is not { } candidate)
        {
            return Next.PredictAsync(serving, input, options, cancellationToken);
        }

        if (candidate.Mode == CandidateMode.Canary && candidate.Routes(options?.RoutingKey))
        {
            if (Telemetry.ModelTracing.Current is { } span)
            {
                span.SetTag(Telemetry.ModelTracing.VariantTag, "canary");
                span.SetTag(Telemetry.ModelTracing.VersionTag, candidate.Runtime.Version);
            }

            return RunOnCandidateAsync(serving, candidate, input, options, cancellationToken);
        }

        var answer = Next.PredictAsync(serving, input, options, cancellationToken);
        if (candidate.Mode != CandidateMode.Shadow)
        {
            return answer;
        }

        if (answer.IsCompletedSuccessfully)
        {
            Mirror(candidate, input, answer.Result);
            return answer;
        }

        return MirrorWhenAnsweredAsync(candidate, input, answer);
    }

    private async ValueTask<TOutput> RunOnCandidateAsync(Serving<TInput, TOutput> serving, CandidateState candidate, TInput input, PredictionOptions? options, CancellationToken cancellationToken)
    {
        TOutput output;
        using var deadline = options?.Timeout is { } timeout ? new CancellationTokenSource(timeout, time) : null;
        using var linked = deadline is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            output = await Runs.RunOnAsync<TInput, TOutput>(candidate.Runtime, input, linked?.Token ?? cancellationToken).ConfigureAwait(false);
        }
        catch (ModelNotReadyException) when (!ReferenceEquals(candidates.Current, candidate))
        {
            // The canary was stopped, replaced or promoted while this request waited for it: answer on the serving path,
            // as a reload moves waiting requests to the new generation (they failed with ModelNotReadyException).
            return await Next.PredictAsync(serving, input, options, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            // The caller's deadline holds on the canary as on the serving path (it was ignored: no deadline, no fallback).
            candidate.Ran(failed: true);
            throw new ModelDeadlineExceededException(candidate.Runtime.Name, $"Request to model '{candidate.Runtime.Name}' (canary) exceeded its {options!.Timeout!.Value.TotalMilliseconds:0} ms deadline.", options.Timeout.Value);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            candidate.Ran(failed: true);
            throw;
        }

        candidate.Ran(failed: false);
        canaryRecorder?.Record(input, output, candidate.Runtime.Info.Sha256);
        return output;
    }

    private static async ValueTask<TOutput> MirrorWhenAnsweredAsync(CandidateState candidate, TInput input, ValueTask<TOutput> serving)
    {
        var output = await serving.ConfigureAwait(false);
        Mirror(candidate, input, output);
        return output;
    }

    private static void Mirror(CandidateState candidate, TInput input, TOutput served)
    {
        var copier = Serving<TInput, TOutput>.Of(candidate.Runtime).Binder.Copier;
        var expected = copier.Clone(served); // the caller may mutate its answer before we compare
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            var (candidate, input, expected) = state;
            try
            {
                if (!Runs.TryRunOn<TInput, TOutput>(candidate.Runtime, input, CancellationToken.None, out var actual))
                {
                    candidate.Skip(); // never queue behind the candidate: shadow must not cost serving capacity
                    return;
                }

                candidate.Ran(failed: false);
                candidate.Compared(Serving<TInput, TOutput>.Of(candidate.Runtime).Binder.Copier.Agrees(expected, actual));
            }
            catch (ModelNotReadyException)
            {
                // The shadow ended while this mirror waited for a thread.
            }
#pragma warning disable CA1031 // A failing candidate is counted, never surfaced to callers.
            catch (Exception)
#pragma warning restore CA1031
            {
                candidate.Ran(failed: true);
            }
        }, (candidate, input, expected), preferLocal: false);
    }
}
