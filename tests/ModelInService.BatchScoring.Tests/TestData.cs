using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics;
using ModelInService.TestUtilities;
using Parquet;
using Parquet.Schema;

namespace ModelInService.BatchScoring.Tests;

public sealed class IrisFlower
{
    [ModelInput("features")] public float SepalLength { get; set; }
    [ModelInput("features")] public float SepalWidth { get; set; }
    [ModelInput("features")] public float PetalLength { get; set; }
    [ModelInput("features")] public float PetalWidth { get; set; }
}

public sealed class IrisPrediction
{
    [ModelOutput("label")] public long Label { get; set; }

    [ModelOutput("probabilities")] public float[] Probabilities { get; set; } = [];
}

internal static class TestData
{
    public static string ModelPath => Path.Combine(AppContext.BaseDirectory, "models", "iris_mlp.onnx");

    public static async Task<ServiceProvider> IrisAsync()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddMetrics();
        services.AddModel<IrisFlower, IrisPrediction>(ModelPath);
        var provider = services.BuildServiceProvider();
        await provider.StartModelsAsync();
        return provider;
    }

    /// <summary>A repository sample model registered without C# types, as <see cref="IModelRunner"/>.</summary>
    public static async Task<(ServiceProvider Provider, IModelRunner Runner)> RunnerAsync(string file)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddModel("m", o => o.Source = ModelSource.FromFile(Path.Combine(AppContext.BaseDirectory, "models", file)));
        var provider = services.BuildServiceProvider();
        await provider.StartModelsAsync();
        return (provider, provider.GetRequiredKeyedService<IModelRunner>("m"));
    }

    public static string TempFile(string extension) => TestTemp.File(extension);

    /// <summary>Seeded iris-like rows: id, the four features in the file's snake_case names.</summary>
    public static string IrisCsv(int rows, int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder("id,sepal_length,sepal_width,petal_length,petal_width\n");
        for (var i = 0; i < rows; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"r{i},{4 + random.NextDouble() * 4:0.###},{2 + random.NextDouble() * 2.5:0.###},{1 + random.NextDouble() * 6:0.###},{random.NextDouble() * 2.5:0.###}\n");
        }

        var path = TempFile(".csv");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    public static async Task<string> IrisParquetAsync(string?[] ids, float?[][] columns, int rowGroupRows)
    {
        var path = TempFile(".parquet");
        var idField = new DataField<string>("id");
        string[] names = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
        var fields = names.Select(n => new DataField<float?>(n)).ToArray();
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema([idField, .. fields]), stream);
        for (var start = 0; start < ids.Length; start += rowGroupRows)
        {
            var count = Math.Min(rowGroupRows, ids.Length - start);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(idField, ids.AsSpan(start, count).ToArray(), null);
            for (var c = 0; c < fields.Length; c++)
            {
                await group.WriteAsync<float>(fields[c], columns[c].AsMemory(start, count), null, null, default);
            }
        }

        return path;
    }
}
