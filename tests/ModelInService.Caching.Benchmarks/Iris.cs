using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Caching.Benchmarks;

public sealed class IrisInput
{
    [ModelInput("features")]
    public float[] Features { get; set; } = [];
}

public sealed class IrisOutput
{
    [ModelOutput("label")]
    public long Label { get; set; }

    [ModelOutput("probabilities")]
    public float[] Probabilities { get; set; } = [];
}

internal static class Iris
{
    public static string ModelPath => Path.Combine(AppContext.BaseDirectory, "models", "iris_mlp.onnx");

    /// <summary>Starts the generated MLP with batching and, optionally, caching; the caller disposes the provider.</summary>
    public static async Task<(ServiceProvider Provider, IPredictor<IrisInput, IrisOutput> Predictor)> StartAsync(bool cache, int capacity = 10_000, bool batching = true)
    {
        var services = new ServiceCollection();
        var builder = services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(ModelPath));
        if (cache)
        {
            builder.UseCaching(c => c.MaxEntries = capacity);
        }

        if (batching)
        {
            builder.UseBatching(b => { b.MaxBatchSize = 64; b.MaxDelay = TimeSpan.FromMilliseconds(1); b.MaxQueueSize = 4096; });
        }

        var provider = services.BuildServiceProvider();
        await provider.StartModelsAsync();
        return (provider, provider.GetRequiredService<IPredictor<IrisInput, IrisOutput>>());
    }

    /// <summary>Input number <paramref name="i"/> of a family of distinct inputs (distinct float bit patterns).</summary>
    public static IrisInput Input(long i) => new() { Features = [4 + (i % 1000) * 0.001f, 2 + (i / 1000 % 1000) * 0.001f, 1 + (i / 1_000_000 % 1000) * 0.001f, 0.5f] };
}
