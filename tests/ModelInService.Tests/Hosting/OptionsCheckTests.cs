using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace ModelInService.Tests.Hosting;

/// <summary>Start-up checks of model options that used to fail late or not at all.</summary>
public class OptionsCheckTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task ModelPath_Empty_StartupValidationNamesModelOptionAndProblem(string path)
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(path))));

        var failure = Assert.Single(ex.Failures);
        Assert.Contains("Model 'iris'", failure);
        Assert.Contains("ModelOptions.Source", failure);
        Assert.Contains("is empty", failure);
    }

    [Fact]
    public async Task ModelPath_AbsoluteDirectory_StartupValidationNamesModelOptionAndProblem()
    {
        var dir = Directory.CreateTempSubdirectory("mis-dir-");
        try
        {
            var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
                TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(dir.FullName))));

            var failure = Assert.Single(ex.Failures);
            Assert.Contains("Model 'iris'", failure);
            Assert.Contains("ModelOptions.Source", failure);
            Assert.Contains(dir.FullName, failure);
            Assert.Contains("is a directory; point it at the .onnx file", failure);
        }
        finally
        {
            dir.Delete();
        }
    }

    [Fact]
    public async Task ModelPath_RelativeDirectory_StartupValidationNamesModelOptionAndProblem()
    {
        // "models" is the folder next to the test assembly (the content root) that holds the test models.
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile("models"))));

        Assert.Contains("is a directory; point it at the .onnx file", Assert.Single(ex.Failures));
    }

    [Fact]
    public async Task ReloadFromADirectory_SaysItIsADirectory()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)));
        var manager = host.Services.GetRequiredService<IModelManager>();

        var ex = await Assert.ThrowsAsync<ModelLoadException>(() => manager.ReloadAsync(ModelSource.FromFile(Path.GetDirectoryName(TestModels.IrisMlp)!)));

        Assert.Contains("is a directory; point it at the .onnx file", ex.Message);
    }

    [Fact]
    public async Task NamedOptionsForAnUnregisteredModel_WarnAtStartup_NamingTheNearestModel()
    {
        var logs = await StartAndCollectAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
            s.AddModel<IrisInput, IrisOutput>("fraud", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
            s.Configure<ModelOptions>("irsi", o => o.MaxConcurrency = 2);
            s.Configure<BatchingOptions>("Iris", o => o.MaxBatchSize = 8);
        });

        var warnings = logs.Where(r => r.Id.Id == 1027).Select(r => r.Message).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Contains(warnings, m => m.Contains("ModelOptions configured for model 'irsi'", StringComparison.Ordinal) && m.Contains("Nearest registered model: 'iris'", StringComparison.Ordinal));
        Assert.Contains(warnings, m => m.Contains("BatchingOptions configured for model 'Iris'", StringComparison.Ordinal) && m.Contains("'iris'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnnamedModelOptions_WarnAtStartup()
    {
        var logs = await StartAndCollectAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
            s.Configure<ModelOptions>(o => o.MaxConcurrency = 2); // the default name: no model reads it
        });

        Assert.Contains("ConfigureAll<ModelOptions>", Assert.Single(logs, r => r.Id.Id == 1028).Message);
    }

    [Fact]
    public async Task ConfigurationSectionForAnUnregisteredModel_WarnsAtStartup_NamingTheNearestModel()
    {
        var logs = await StartAndCollectAsync(
            s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)),
            new Dictionary<string, string?> { ["Models:irsi:MaxConcurrency"] = "2", ["Models:IRIS:Candidate"] = "x.onnx" });

        var warning = Assert.Single(logs, r => r.Id.Id == 1027).Message; // "IRIS" is iris: configuration keys ignore case
        Assert.Contains("model 'irsi' (configuration section Models:irsi)", warning);
        Assert.Contains("Nearest registered model: 'iris'", warning);
    }

    [Fact]
    public async Task SettingsOfAFeatureThatIsOff_WarnAtStartup()
    {
        var logs = await StartAndCollectAsync(
            s =>
            {
                s.AddModel<IrisInput, IrisOutput>("iris", o =>
                {
                    o.Source = ModelSource.FromFile(TestModels.IrisMlp);
                    o.ReloadDebounce = TimeSpan.FromSeconds(10); // without WatchForChanges
                    o.DeviceId = 1;                              // with the CPU provider
                });
                s.Configure<BatchingOptions>("iris", b => b.MaxBatchSize = 8); // without UseBatching
            },
            new Dictionary<string, string?> { ["Models:iris:Caching:MaxEntries"] = "10" }); // without UseCaching

        var warnings = logs.Where(r => r.Id.Id == 1029).Select(r => r.Message).ToList();
        Assert.Equal(4, warnings.Count);
        Assert.Contains(warnings, m => m.Contains("BatchingOptions configured", StringComparison.Ordinal) && m.Contains("UseBatching()", StringComparison.Ordinal));
        Assert.Contains(warnings, m => m.Contains("CachingOptions configured (configuration section Models:iris:Caching)", StringComparison.Ordinal) && m.Contains("UseCaching()", StringComparison.Ordinal));
        Assert.Contains(warnings, m => m.Contains("ReloadDebounce", StringComparison.Ordinal) && m.Contains("WatchForChanges", StringComparison.Ordinal));
        Assert.Contains(warnings, m => m.Contains("DeviceId", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FeaturesInUse_NoConfigurationWarnings()
    {
        var logs = await StartAndCollectAsync(
            s =>
            {
                s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).UseBatching().UseCaching();
                s.Configure<BatchingOptions>("iris", b => b.MaxBatchSize = 8);
                s.ConfigureAll<ModelOptions>(o => o.WarmupRuns = 1);
            },
            new Dictionary<string, string?> { ["Models:iris:Caching:MaxEntries"] = "10", ["Models:iris:Batching:MaxBatchSize"] = "8" });

        Assert.DoesNotContain(logs, r => r.Id.Id is 1027 or 1028 or 1029);
    }

    private static async Task<IReadOnlyList<FakeLogRecord>> StartAndCollectAsync(Action<IServiceCollection> configure, Dictionary<string, string?>? configuration = null)
    {
        var logs = new FakeLogCollector();
        var builder = TestModels.CreateBuilder();
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        builder.Services.AddLogging(b => b.AddProvider(new FakeLoggerProvider(logs)));
        configure(builder.Services);
        using var host = builder.Build();
        await host.StartAsync();
        await host.StopAsync();
        return logs.GetSnapshot();
    }
}
