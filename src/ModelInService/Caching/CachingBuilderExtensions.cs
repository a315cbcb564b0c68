using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelInService.Caching;

namespace ModelInService;

/// <summary>Adds the prediction cache to a registered model.</summary>
public static class CachingBuilderExtensions
{
    /// <summary>
    /// Answers repeated inputs from an LRU cache in front of the batcher: key = 128-bit hash of the input's content
    /// and the model version, entry and byte budgets, optional TTL, single-flight for identical concurrent requests,
    /// and a private copy for every caller. Off by default. See docs/caching.md.
    /// </summary>
    /// <param name="builder">The model builder.</param>
    /// <param name="configure">Adjusts the caching options.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException">The model was registered without C# types.</exception>
    public static ModelBuilder UseCaching(this ModelBuilder builder, Action<CachingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!builder.Registration.IsTyped)
        {
            throw new InvalidOperationException($"Model '{builder.Name}' was registered without input and output types; caching needs AddModel<TInput, TOutput>(...).");
        }

        builder.Registration.UseCaching = true;
        var options = builder.Services.AddOptions<CachingOptions>(builder.Name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CachingOptions>, CachingOptionsValidator>());
        return builder;
    }
}
