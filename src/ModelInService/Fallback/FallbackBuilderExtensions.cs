namespace ModelInService;

/// <summary>Adds a fallback answer to a registered model.</summary>
public static class FallbackBuilderExtensions
{
    /// <summary>
    /// Answers with <paramref name="fallback"/> when the model cannot: it failed on a valid input
    /// (<see cref="ModelInferenceException"/>), missed the deadline, its queue is full, or it is not loaded. Invalid
    /// input is never sent to the fallback. Counted as outcome <c>fallback</c> in the metrics.
    /// </summary>
    /// <typeparam name="TInput">The model's input type.</typeparam>
    /// <typeparam name="TOutput">The model's output type.</typeparam>
    /// <param name="builder">The model builder.</param>
    /// <param name="fallback">Computes an answer from the input and the error (e.g. a rule-based default).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="fallback"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The types differ from the model's registration.</exception>
    public static ModelBuilder UseFallback<TInput, TOutput>(this ModelBuilder builder, Func<TInput, Exception, CancellationToken, ValueTask<TOutput>> fallback)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(fallback);
        if (builder.Registration.InputType != typeof(TInput) || builder.Registration.OutputType != typeof(TOutput))
        {
            throw new InvalidOperationException($"Model '{builder.Name}' is registered as AddModel<{builder.Registration.InputType?.Name}, {builder.Registration.OutputType?.Name}>; its fallback must use the same types.");
        }

        builder.Registration.FallbackDelegate = fallback;
        return builder;
    }

    /// <summary>Answers with another registered model (same input and output types) when this one cannot (see the other overload).</summary>
    /// <param name="builder">The model builder.</param>
    /// <param name="modelName">The fallback model's name.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="modelName"/> is empty or this model's own name.</exception>
    public static ModelBuilder UseFallback(this ModelBuilder builder, string modelName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(modelName);
        if (modelName == builder.Name)
        {
            throw new ArgumentException($"Model '{builder.Name}' cannot be its own fallback.", nameof(modelName));
        }

        builder.Registration.FallbackModel = modelName;
        return builder;
    }
}
