
namespace ModelInService.Sessions;

/// <summary>
/// One feature of the typed request path (metrics, validation, monitoring, routing, caching, batching, the session
/// run), in the style of Microsoft.Extensions.AI's <c>DelegatingChatClient</c>: a stage sees only the next stage and
/// its own options, never another stage's type. Stages are composed once, when the model's
/// <see cref="IPredictor{TInput, TOutput}"/> is built (<c>PredictionChain</c>); a feature that is off is not in
/// the chain.
/// </summary>
/// <typeparam name="TInput">The input type.</typeparam>
/// <typeparam name="TOutput">The output type.</typeparam>
internal abstract class PredictionStage<TInput, TOutput>
{
    /// <summary>Serves one prediction. Never throws synchronously: failures come back in the returned task.</summary>
    /// <param name="serving">The call's snapshot of the serving generation, taken once at the top.</param>
    /// <param name="input">The input.</param>
    /// <param name="options">Per-call options, or null.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    public abstract ValueTask<TOutput> PredictAsync(Serving<TInput, TOutput> serving, TInput input, PredictionOptions? options, CancellationToken cancellationToken);
}

/// <summary>A stage that hands the call on to <see cref="Next"/> after (or around) its own work.</summary>
/// <typeparam name="TInput">The input type.</typeparam>
/// <typeparam name="TOutput">The output type.</typeparam>
internal abstract class DelegatingStage<TInput, TOutput>(PredictionStage<TInput, TOutput> next) : PredictionStage<TInput, TOutput>
{
    /// <summary>The next stage toward the session.</summary>
    protected PredictionStage<TInput, TOutput> Next { get; } = next;
}
