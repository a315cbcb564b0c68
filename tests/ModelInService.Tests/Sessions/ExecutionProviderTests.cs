using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace ModelInService.Tests.Sessions;

public class ExecutionProviderTests
{
    [Theory]
    [InlineData("CUDA")]
    [InlineData("TensorRT")]
    [InlineData("DirectML")]
    [InlineData("OpenVINO")]
    public async Task AbsentProvider_NotRequired_FallsBackToCpuWithAWarning(string provider)
    {
        var collector = new FakeLogCollector();
        var builder = TestModels.CreateBuilder();
        builder.Logging.AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.ExecutionProvider = provider;
        });
        using var host = builder.Build();
        await host.StartAsync();

        var output = await host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.Equal(0, output.Label);
        var warning = Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "ExecutionProviderFallback");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains($"'{provider}'", warning.Message);
        Assert.Contains("falling back to CPU", warning.Message);
    }

    [Fact]
    public async Task AbsentProvider_Required_FailsStartNamingTheProvider()
    {
        var builder = TestModels.CreateBuilder();
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.ExecutionProvider = "CUDA";
            o.ExecutionProviderRequired = true;
        });
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => host.StartAsync());
        Assert.Contains("Execution provider 'CUDA' is required for model 'iris' but is not available", ex.Message);
        Assert.Contains("CUDAExecutionProvider", ex.Message);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", ex.Message);
    }

    [Fact]
    public async Task Cpu_LoadLog_ReportsThreadsAndSignature()
    {
        var collector = new FakeLogCollector();
        var builder = TestModels.CreateBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(TestModels.IrisMlp);
            o.MaxConcurrency = 2;
        });
        using var host = builder.Build();
        await host.StartAsync();

        var loaded = Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "ModelLoaded");
        Assert.Contains("2 concurrent runs", loaded.Message);
        Assert.Contains("features float32 [batch,4]", loaded.Message);
        Assert.Contains("CPUExecutionProvider", loaded.Message);
    }
}
