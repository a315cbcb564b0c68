using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ModelInService.Tests;

/// <summary>The repo's own generated models (samples/models, copied next to the test assembly) and host helpers.</summary>
internal static class TestModels
{
    public static string Path(string fileName) => System.IO.Path.Combine(AppContext.BaseDirectory, "models", fileName);

    public static string IrisMlp => Path("iris_mlp.onnx");

    public static string IrisZipMap => Path("iris_mlp_zipmap.onnx");

    public static string IrisFixed => Path("iris_mlp_fixed.onnx");

    public static string MultiInput => Path("multi_input.onnx");

    public static string VariableLength => Path("variable_length.onnx");

    public static string ImageLike => Path("image_like.onnx");

    public static HostApplicationBuilder CreateBuilder() =>
        Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = AppContext.BaseDirectory });

    public static async Task<IHost> StartAsync(Action<IServiceCollection> configure)
    {
        var builder = CreateBuilder();
        configure(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>Loads models into a plain service provider (no host) and returns it.</summary>
    public static async Task<ServiceProvider> ProviderAsync(Action<IServiceCollection> configure)
    {
        var services = new ServiceCollection();
        configure(services);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        await provider.StartModelsAsync();
        return provider;
    }
}

[ModelSchema]
public sealed class IrisInput
{
    [ModelInput("features")]
    public float[] Features { get; set; } = [];
}

[ModelSchema]
public sealed class IrisOutput
{
    [ModelOutput("label")]
    public long Label { get; set; }

    [ModelOutput("probabilities")]
    public float[] Probabilities { get; set; } = [];
}

/// <summary>Scalar features packed into the [N,4] input in declaration order, each keeping its name.</summary>
[ModelSchema]
public sealed record IrisFeatures(
    [property: ModelInput("features")] float SepalLength,
    [property: ModelInput("features")] float SepalWidth,
    [property: ModelInput("features")] float PetalLength,
    [property: ModelInput("features")] float PetalWidth);

/// <summary>A positional record with attributes on the parameters (no property: target) and scalar output columns.</summary>
[ModelSchema]
public sealed record IrisScores(
    [ModelOutput("label")] long Label,
    [ModelOutput("probabilities", Order = 0)] float Setosa,
    [ModelOutput("probabilities", Order = 1)] float Versicolor,
    [ModelOutput("probabilities", Order = 2)] float Virginica);

public static class IrisSamples
{
    public static readonly float[] Setosa = [5.1f, 3.5f, 1.4f, 0.2f];
    public static readonly float[] Versicolor = [6.0f, 2.9f, 4.5f, 1.5f];
    public static readonly float[] Virginica = [6.7f, 3.0f, 5.2f, 2.3f];
}
