using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ModelInService.Hosting;

namespace ModelInService.Tests.Hosting;

/// <summary>The configuration recipes of docs/configuration.md, as written there.</summary>
public class ConfigurationBindingTests
{
    [Fact]
    public async Task AppSettingsLayout_BindsModelAndBatchingOptions_AndThePath()
    {
        var builder = TestModels.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Models:iris:Path"] = TestModels.IrisMlp,
            ["Models:iris:MaxConcurrency"] = "2",
            ["Models:iris:WatchForChanges"] = "true",
            ["Models:iris:ReloadDebounce"] = "00:00:05",
            ["Models:iris:Batching:MaxBatchSize"] = "64",
            ["Models:iris:Batching:MaxDelay"] = "00:00:00.005",
            ["Models:iris:Batching:DefaultTimeout"] = "-00:00:00.001",
        });
        var iris = builder.Configuration.GetSection("Models:iris");
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(iris["Path"] ?? ""))
            .UseBatching();
        builder.Services.Configure<ModelOptions>("iris", iris);
        builder.Services.Configure<BatchingOptions>("iris", iris.GetSection("Batching"));
        using var host = builder.Build();

        await host.StartAsync();

        var model = host.Services.GetRequiredService<ModelRegistry>().Get("iris");
        Assert.Equal(2, model.Options.MaxConcurrency);
        Assert.Equal(TimeSpan.FromSeconds(5), model.Options.ReloadDebounce);
        Assert.Equal(64, model.BatchingOptions!.MaxBatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(5), model.BatchingOptions.MaxDelay);
        Assert.Equal(Timeout.InfiniteTimeSpan, model.BatchingOptions.DefaultTimeout); // "-00:00:00.001" is -1 ms
        await host.StopAsync();
    }

    [Fact]
    public async Task EnvironmentVariables_DoubleUnderscoreSeparatesSections()
    {
        // A prefix of this test's own: environment variables are process-wide and tests run in parallel.
        var prefix = "MIS_TEST_" + Guid.NewGuid().ToString("N") + "_";
        Environment.SetEnvironmentVariable(prefix + "Models__iris__MaxConcurrency", "3");
        Environment.SetEnvironmentVariable(prefix + "Models__iris__Batching__MaxBatchSize", "7");
        try
        {
            var builder = TestModels.CreateBuilder();
            builder.Configuration.AddEnvironmentVariables(prefix);
            builder.Services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).UseBatching();
            builder.Services.Configure<ModelOptions>("iris", builder.Configuration.GetSection("Models:iris"));
            builder.Services.Configure<BatchingOptions>("iris", builder.Configuration.GetSection("Models:iris:Batching"));
            using var host = builder.Build();

            await host.StartAsync();

            var model = host.Services.GetRequiredService<ModelRegistry>().Get("iris");
            Assert.Equal(3, model.Options.MaxConcurrency);
            Assert.Equal(7, model.BatchingOptions!.MaxBatchSize);
            await host.StopAsync();
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "Models__iris__MaxConcurrency", null);
            Environment.SetEnvironmentVariable(prefix + "Models__iris__Batching__MaxBatchSize", null);
        }
    }

    [Fact]
    public async Task ErrorOnUnknownConfiguration_AMisspelledKeyFailsTheStart()
    {
        var builder = TestModels.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Models:iris:MaxConcurency"] = "2" });
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        builder.Services.AddOptions<ModelOptions>("iris")
            .Bind(builder.Configuration.GetSection("Models:iris"), b => b.ErrorOnUnknownConfiguration = true);
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("'MaxConcurency'", ex.Message);
    }
}
