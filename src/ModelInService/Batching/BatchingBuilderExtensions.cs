using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelInService.Batching;

namespace ModelInService;

/// <summary>Adds the dynamic batcher to a registered model.</summary>
public static class BatchingBuilderExtensions
{
    /// <summary>
    /// Collects concurrent <c>PredictAsync</c> calls into batches: bounded queue with immediate rejection
    /// (<see cref="ModelOverloadedException"/>), deadlines that include queue time, priorities, cancellation, poison
    /// isolation and a graceful drain at shutdown. See docs/batching.md.
    /// </summary>
    /// <param name="builder">The model builder.</param>
    /// <param name="configure">Adjusts the batching options; the defaults suit small tabular models.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException">The model was registered without C# types (batching needs <c>AddModel&lt;TIn, TOut&gt;</c>).</exception>
    public static ModelBuilder UseBatching(this ModelBuilder builder, Action<BatchingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!builder.Registration.IsTyped)
        {
            throw new InvalidOperationException($"Model '{builder.Name}' was registered without input and output types; batching needs AddModel<TInput, TOutput>(...).");
        }

        builder.Registration.UseBatching = true;
        var options = builder.Services.AddOptions<BatchingOptions>(builder.Name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BatchingOptions>, BatchingOptionsValidator>());
        return builder;
    }
}
