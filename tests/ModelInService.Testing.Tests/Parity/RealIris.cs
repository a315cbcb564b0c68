using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Testing.Tests.Parity;

/// <summary>
/// The real predictor and runner on samples/models/iris_mlp.onnx (input <c>features</c> float32 [batch,4], outputs
/// <c>label</c> and <c>probabilities</c>), loaded once for every parity test: each test runs the same scenario against a
/// fake declared like it and asserts the same observable behaviour.
/// </summary>
public sealed class RealIris : IAsyncLifetime
{
    private ServiceProvider? _services;

    /// <summary>The model name both the real types and the fakes carry, so the messages can be compared whole.</summary>
    public const string Name = "iris";

    public static readonly float[] Setosa = [5.1f, 3.5f, 1.4f, 0.2f];

    public IPredictor<IrisIn, IrisOut> Predictor => _services!.GetRequiredKeyedService<IPredictor<IrisIn, IrisOut>>(Name);

    public IModelRunner Runner => _services!.GetRequiredKeyedService<IModelRunner>(Name);

    /// <summary>A fake runner declared as the model is (its free batch dimension is unnamed: the real one is <c>batch</c>).</summary>
    public static FakeModelRunner FakeRunner() => new FakeModelRunner(Name)
        .WithInput("features", ModelElementType.Float32, -1, 4)
        .WithOutput("label", ModelElementType.Int64, -1)
        .WithOutput("probabilities", ModelElementType.Float32, -1, 3);

    public async Task InitializeAsync()
    {
        var services = new ServiceCollection();
        services.AddModel<IrisIn, IrisOut>(Name, o => o.Source = ModelSource.FromFile(Path.Combine(AppContext.BaseDirectory, "models", "iris_mlp.onnx")));
        _services = services.BuildServiceProvider();
        await _services.StartModelsAsync();
    }

    public async Task DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }
    }
}

/// <summary>The iris input, named as in the probe (the real predictor's null-input reason names the type).</summary>
public sealed class IrisIn
{
    [ModelInput("features")]
    public float[] Features { get; set; } = [];
}

/// <summary>The iris output.</summary>
public sealed class IrisOut
{
    [ModelOutput("label")]
    public long Label { get; set; }

    [ModelOutput("probabilities")]
    public float[] Probabilities { get; set; } = [];
}

[CollectionDefinition(nameof(RealIris))]
public sealed class RealIrisGroup : ICollectionFixture<RealIris>
{
}
