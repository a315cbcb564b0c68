using System.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace SemanticSearch;

/// <summary>
/// Embeds the corpus when the host starts, in one <c>GenerateAsync</c> call over every sentence (the batcher runs
/// them as batches), and fills the <see cref="SearchIndex"/>. It is registered after the model, so the model is
/// loaded first, and the app does not listen before the corpus is indexed.
/// </summary>
public sealed partial class CorpusIndexer(
    IServiceProvider services,
    SearchIndex index,
    IOptions<SearchSettings> settings,
    ILogger<CorpusIndexer> logger) : IHostedService
{
    /// <summary>The embedding model's name.</summary>
    public const string ModelName = "minilm";

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(settings.Value.CorpusPath, AppContext.BaseDirectory);
        var entries = SearchIndex.ReadCorpus(path);
        if (entries.Count == 0)
        {
            throw new InvalidOperationException($"The corpus {path} has no sentences.");
        }

        // Resolved here, not in the constructor: the hosted services are all built before the first starts, and the
        // generator needs the model loaded (by the model's own hosted service, registered earlier).
        var generator = services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(ModelName);
        var watch = Stopwatch.StartNew();
        var embeddings = await generator.GenerateAsync([.. entries.Select(e => e.Text)], cancellationToken: cancellationToken).ConfigureAwait(false);
        index.Load(entries, [.. embeddings.Select(e => e.Vector)]);
        LogIndexed(logger, index.Count, index.Dimension, path, watch.ElapsedMilliseconds);
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(1, LogLevel.Information, "Indexed {Count} sentences ({Dimension} dimensions) from {Path} in {Milliseconds} ms")]
    private static partial void LogIndexed(ILogger logger, int count, int dimension, string path, long milliseconds);
}

/// <summary>Readiness of the index: Healthy once the corpus is embedded.</summary>
public sealed class CorpusHealthCheck(SearchIndex index) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(index.IsReady
            ? HealthCheckResult.Healthy($"{index.Count} sentences indexed", new Dictionary<string, object> { ["sentences"] = index.Count })
            : HealthCheckResult.Unhealthy("the corpus is not indexed yet"));
}
