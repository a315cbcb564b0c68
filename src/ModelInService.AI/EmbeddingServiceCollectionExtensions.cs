using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ModelInService.AI;

/// <summary>Registers text-embedding models served as <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>.</summary>
public static class EmbeddingServiceCollectionExtensions
{
    /// <summary>
    /// Registers an ONNX sentence-transformers encoder under <paramref name="name"/>, served as a keyed
    /// <c>IEmbeddingGenerator&lt;string, Embedding&lt;float&gt;&gt;</c> (<c>[FromKeyedServices("name")]</c>; the first
    /// registered is also the unkeyed one). The model loads, is checked and warmed up when the host starts, like any
    /// model of <c>AddModel</c>; the options are validated then too. The returned builder adds the library's features
    /// to the model: <c>.UseBatching()</c> batches concurrent texts (rows padded to
    /// <see cref="EmbeddingModelOptions.LengthBucket"/> share a batch), <c>.UseCaching()</c> answers a repeated text
    /// from the cache, <c>.Configure(o => ...)</c> sets the session options.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The model name: the DI key, the embeddings' model id, the name in logs and errors.</param>
    /// <param name="configure">Sets at least <see cref="EmbeddingModelOptions.Source"/> and <see cref="EmbeddingModelOptions.Vocabulary"/>.</param>
    /// <returns>The model's builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException">A model with the same name, or one differing only by case, is already registered.</exception>
    /// <remarks>
    /// The model must take int64 <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c> <c>[batch,sequence]</c>
    /// and give float32 <c>last_hidden_state [batch,sequence,dimension]</c>; a model that does not stops the host
    /// with a message naming the input or output that does not fit.
    /// </remarks>
    public static ModelBuilder AddEmbeddingModel(this IServiceCollection services, string name, Action<EmbeddingModelOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);

        var builder = services.AddModel<BertInput, BertOutput>(name, static _ => { });
        services.AddOptions<EmbeddingModelOptions>(name).Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmbeddingModelOptions>, EmbeddingModelOptionsValidator>());
        services.AddOptions<ModelOptions>(name).Configure<IOptionsMonitor<EmbeddingModelOptions>>((model, embedding) => model.Source ??= embedding.Get(name).Source);
        services.AddSingleton(new EmbeddingRegistration(name));

        services.AddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(name, static (sp, key) => Create(sp, (string)key!));
        services.TryAddSingleton(sp => sp.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(name));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EmbeddingStartupService>());
        return builder;
    }

    /// <summary>Builds a model's generator: reads the vocabulary, checks the loaded model's output, logs the set-up.</summary>
    private static OnnxEmbeddingGenerator Create(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<IOptionsMonitor<EmbeddingModelOptions>>().Get(name);
        var runner = services.GetRequiredKeyedService<IModelRunner>(name);
        var dimensions = EmbeddingSignature.Check(name, runner.Signature);
        var contentRoot = services.GetService<IHostEnvironment>()?.ContentRootPath;
        byte[] vocabulary;
        try
        {
            vocabulary = options.Vocabulary!.Read(contentRoot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new ModelLoadException(name, $"Embedding model '{name}': cannot read the vocabulary {options.Vocabulary}: {e.Message}", e);
        }

        using var stream = new MemoryStream(vocabulary, writable: false);
        var tokenizer = new TextTokenizer(name, stream, options);
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger("ModelInService.AI") ?? NullLogger.Instance;
        EmbeddingLog.ModelReady(logger, name, dimensions, options.Pooling, options.Normalize, options.MaxTokens, options.Truncation, options.LengthBucket);
        var observer = services.GetKeyedService<IEmbeddingObserver>(name);
        // Texts of one call in flight: a few batches' worth (the batcher keeps running full), never more than half the
        // queue (a call larger than the queue failed with ModelOverloadedException on an idle model).
        var batching = services.GetService<IOptionsMonitor<BatchingOptions>>()?.Get(name);
        var window = batching is null ? 64 : Math.Clamp(Math.Max(64, 4 * batching.MaxBatchSize), 1, Math.Max(1, batching.MaxQueueSize / 2));
        return new OnnxEmbeddingGenerator(name, services.GetRequiredKeyedService<IPredictor<BertInput, BertOutput>>(name), tokenizer, options, dimensions,
            services.GetService<TimeProvider>() ?? TimeProvider.System, observer, logger, window);
    }
}

/// <summary>Marks a model registered by <c>AddEmbeddingModel</c>, so the start-up service builds its generator.</summary>
/// <param name="Name">The model name.</param>
internal sealed record EmbeddingRegistration(string Name);

/// <summary>
/// Builds every embedding generator when the host starts, after the models have loaded (hosted services start in
/// registration order and the models' loader is registered first): a missing vocabulary or a model whose output does
/// not fit stops the host instead of failing the first request.
/// </summary>
internal sealed class EmbeddingStartupService(IServiceProvider services, IEnumerable<EmbeddingRegistration> registrations) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var registration in registrations)
        {
            if (services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(registration.Name) is OnnxEmbeddingGenerator generator)
            {
                await generator.CheckLongestRowAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Checks the encoder's signature beyond what the typed binder checks (the output's rank and dimension).</summary>
internal static class EmbeddingSignature
{
    /// <summary>Returns the embedding dimension, or throws naming what does not fit.</summary>
    public static int Check(string name, ModelSignature signature)
    {
        var output = signature.FindOutput("last_hidden_state")
            ?? throw new ModelSchemaException(name, [$"the model has no output 'last_hidden_state' [batch,sequence,dimension] (its outputs: {string.Join(", ", signature.Outputs)})"]);
        if (output.ElementType != ModelElementType.Float32 || output.Dimensions.Count != 3 || output.Dimensions[2] <= 0)
        {
            throw new ModelSchemaException(name, [$"output 'last_hidden_state' is {output}; an embedding model needs float32 [batch,sequence,dimension] with a fixed dimension"]);
        }

        return checked((int)output.Dimensions[2]);
    }
}
