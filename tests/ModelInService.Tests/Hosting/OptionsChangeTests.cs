using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ModelInService.Hosting;

namespace ModelInService.Tests.Hosting;

/// <summary>
/// Options bound from configuration that change while the app runs (appsettings.json with reloadOnChange): not applied,
/// but logged with what changed and whether the new values are valid. The configuration is reloaded explicitly
/// (<see cref="IConfigurationRoot.Reload"/>), which raises the same change tokens a file change does.
/// </summary>
public class OptionsChangeTests
{
    [Fact]
    public async Task ModelOptionsChangedAtRunTime_LogsTheChangeNeedsARestart_AndKeepsTheOldValues()
    {
        await using var app = await App.StartAsync(new() { ["Models:iris:MaxConcurrency"] = "2", ["Models:iris:WarmupRuns"] = "1" });

        app.Reload(("Models:iris:MaxConcurrency", "1"));

        var warning = Assert.Single(app.Logs.GetSnapshot(), r => r.Id.Id == 1030).Message;
        Assert.Contains("Model 'iris'", warning);
        Assert.Contains("ModelOptions changed at run time (MaxConcurrency: 2 -> 1)", warning);
        Assert.Contains("takes effect only after a restart", warning);
        Assert.EndsWith("The new values are valid", warning);
        Assert.Equal(2, app.Host.Services.GetRequiredService<ModelRegistry>().Get("iris").Options.MaxConcurrency);
    }

    [Fact]
    public async Task InvalidModelOptionsAtRunTime_LogsTheValidationFailures_AndTheModelKeepsServing()
    {
        await using var app = await App.StartAsync(new() { ["Models:iris:MaxConcurrency"] = "2" });

        // IOptionsMonitor itself rebuilds the options on the same change and throws their validation error from the
        // change callback (raised here by Reload; after a file change, on the file watcher's task, unobserved).
        var thrown = Record.Exception(() => app.Reload(("Models:iris:MaxConcurrency", "-5")));
        Assert.IsType<Microsoft.Extensions.Options.OptionsValidationException>(Assert.IsType<AggregateException>(thrown).InnerException);

        var warning = Assert.Single(app.Logs.GetSnapshot(), r => r.Id.Id == 1030).Message;
        Assert.Contains("MaxConcurrency: 2 -> -5", warning);
        Assert.Contains("invalid", warning);
        Assert.Contains("ModelOptions.MaxConcurrency is -5", warning);
        var predictor = app.Host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        Assert.Equal(0, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
    }

    [Fact]
    public async Task BatchingOptionsChangedAtRunTime_AreReported()
    {
        await using var app = await App.StartAsync(new() { ["Models:iris:Batching:MaxBatchSize"] = "8" });

        app.Reload(("Models:iris:Batching:MaxBatchSize", "16"));

        var warning = Assert.Single(app.Logs.GetSnapshot(), r => r.Id.Id == 1030).Message;
        Assert.Contains("BatchingOptions changed at run time (MaxBatchSize: 8 -> 16)", warning);
    }

    [Fact]
    public async Task ReloadWithoutAChange_AndTheSameChangeTwice_LogOnce()
    {
        await using var app = await App.StartAsync(new() { ["Models:iris:MaxConcurrency"] = "2" });

        app.Reload();
        Assert.DoesNotContain(app.Logs.GetSnapshot(), r => r.Id.Id == 1030);

        app.Reload(("Models:iris:MaxConcurrency", "1"));
        app.Reload(); // a file save often raises two events
        Assert.Single(app.Logs.GetSnapshot(), r => r.Id.Id == 1030);
    }

    /// <summary>A host whose "iris" model binds Models:iris and Models:iris:Batching from an in-memory configuration.</summary>
    private sealed class App : IAsyncDisposable
    {
        private App(IHost host, IConfigurationRoot configuration, FakeLogCollector logs) => (Host, Configuration, Logs) = (host, configuration, logs);

        public IHost Host { get; }

        public IConfigurationRoot Configuration { get; }

        public FakeLogCollector Logs { get; }

        public static async Task<App> StartAsync(Dictionary<string, string?> settings)
        {
            var logs = new FakeLogCollector();
            var builder = TestModels.CreateBuilder();
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Services.AddLogging(b => b.AddProvider(new FakeLoggerProvider(logs)));
            builder.Services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).UseBatching();
            builder.Services.Configure<ModelOptions>("iris", builder.Configuration.GetSection("Models:iris"));
            builder.Services.Configure<BatchingOptions>("iris", builder.Configuration.GetSection("Models:iris:Batching"));
            var host = builder.Build();
            await host.StartAsync();
            return new App(host, (IConfigurationRoot)host.Services.GetRequiredService<IConfiguration>(), logs);
        }

        /// <summary>Sets values and reloads the configuration, as a changed appsettings.json does.</summary>
        public void Reload(params (string Key, string Value)[] values)
        {
            foreach (var (key, value) in values)
            {
                Configuration[key] = value;
            }

            Configuration.Reload();
        }

        public async ValueTask DisposeAsync()
        {
            await Host.StopAsync();
            Host.Dispose();
        }
    }
}
