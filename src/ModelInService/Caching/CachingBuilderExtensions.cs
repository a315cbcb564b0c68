using Microsoft.Extensions.Caching.Memory;
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

    /// <summary>
    /// Keeps the model's cached predictions in the app's <see cref="IMemoryCache"/> instead of the built-in exact LRU:
    /// they share the app's <see cref="MemoryCacheOptions.SizeLimit"/> and compaction with everything else it caches
    /// (registers <c>AddMemoryCache()</c> unless the app already did). Keys, single-flight, TTL and the per-caller copy
    /// stay the same; <see cref="CachingOptions.MaxEntries"/> and <see cref="CachingOptions.MaxBytes"/> no longer apply.
    /// Call after <see cref="UseCaching"/>.
    /// </summary>
    /// <param name="builder">The model builder.</param>
    /// <param name="entrySize">
    /// Maps an entry's estimated bytes (the output's arrays, strings and maps, plus 64 bytes of bookkeeping) to the unit
    /// of the app's <see cref="MemoryCacheOptions.SizeLimit"/>; by default the size is in bytes, so set the app's limit in
    /// bytes (or pass e.g. <c>_ =&gt; 1</c> when the limit counts entries).
    /// </param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException"><see cref="UseCaching"/> was not called for the model.</exception>
    public static ModelBuilder UseMemoryCache(this ModelBuilder builder, Func<long, long>? entrySize = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!builder.Registration.UseCaching)
        {
            throw new InvalidOperationException($"Model '{builder.Name}': call UseCaching() before UseMemoryCache().");
        }

        builder.Services.AddMemoryCache();
        builder.Services.Configure<CachingOptions>(builder.Name, o =>
        {
            o.UsesMemoryCache = true;
            o.MemoryCacheEntrySize = entrySize;
        });
        return builder;
    }
}
