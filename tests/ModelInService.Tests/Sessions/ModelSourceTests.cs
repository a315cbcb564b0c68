using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tests.Sessions;

public class ModelSourceTests
{
    public static TheoryData<string> Sources => new() { "file", "relative", "bytes", "stream", "resource" };

    [Theory]
    [MemberData(nameof(Sources))]
    public async Task EverySourceKind_LoadsAndPredicts(string kind)
    {
        var source = kind switch
        {
            "file" => ModelSource.FromFile(TestModels.IrisMlp),
            "relative" => ModelSource.FromFile("models/iris_mlp.onnx"),
            "bytes" => ModelSource.FromBytes(File.ReadAllBytes(TestModels.IrisMlp)),
            "stream" => ModelSource.FromStream(() => File.OpenRead(TestModels.IrisMlp)),
            _ => ModelSource.FromEmbeddedResource(typeof(ModelSourceTests).Assembly, "ModelInService.Tests.iris_mlp.onnx"),
        };
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = source));

        var output = await host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().PredictAsync(new IrisInput { Features = IrisSamples.Versicolor });

        Assert.Equal(1, output.Label);
    }

    [Fact]
    public async Task MissingResource_ListsTheResourcesThatExist()
    {
        var builder = TestModels.CreateBuilder();
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromEmbeddedResource(typeof(ModelSourceTests).Assembly, "nope.onnx"));
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => host.StartAsync());
        Assert.Contains("nope.onnx", ex.Message);
        Assert.Contains("ModelInService.Tests.iris_mlp.onnx", ex.Message);
    }

    [Fact]
    public async Task CorruptBytes_FailWithTheRuntimesReason()
    {
        var builder = TestModels.CreateBuilder();
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromBytes(new byte[] { 0x08, 0xff, 0xff, 0xff }, "corrupt.onnx"));
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => host.StartAsync());
        Assert.Contains("corrupt.onnx", ex.Message);
        Assert.Contains("ONNX Runtime", ex.Message);
        Assert.IsAssignableFrom<Exception>(ex.InnerException);
    }
}
