using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ModelInService.Tests.Hosting;

public class HealthCheckTests
{
    [Fact]
    public async Task LoadedModel_IsHealthy_FailedOneIsUnhealthy_TaggedReady()
    {
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("good", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
            s.AddModel<IrisInput, IrisOutput>("broken", o => { o.Source = ModelSource.FromBytes([1, 2, 3], "garbage"); o.ContinueOnLoadError = true; });
            s.AddHealthChecks().AddModelChecks();
        });
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var report = await health.CheckHealthAsync(c => c.Tags.Contains("ready"));

        Assert.Equal(HealthStatus.Healthy, report.Entries["model:good"].Status);
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["model:broken"].Status);
        Assert.Contains("failed to load (the reason is logged, event 1002)", report.Entries["model:broken"].Description);
        Assert.DoesNotContain("garbage", report.Entries["model:broken"].Description); // the source is in the log, not the anonymous answer
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.True(report.Entries["model:good"].Data.ContainsKey("version"));
    }

    [Fact]
    public async Task NotYetStarted_IsUnhealthy()
    {
        var builder = TestModels.CreateBuilder();
        builder.Services.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp);
        builder.Services.AddHealthChecks().AddModelChecks("models");
        using var host = builder.Build();

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = report.Entries["model:iris_mlp"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("not loaded yet", entry.Description);
        Assert.Contains("models", entry.Tags);
    }

    [Fact]
    public async Task QueueNearItsBound_IsDegraded()
    {
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("iris", o => { o.Source = ModelSource.FromFile(TestModels.IrisMlp); o.MaxConcurrency = 1; })
                .UseBatching(b => { b.MaxQueueSize = 5; b.MaxBatchSize = 1; });
            s.AddHealthChecks().AddModelChecks();
        });
        var registry = host.Services.GetRequiredService<ModelInService.Hosting.ModelRegistry>();
        var runtime = registry.Get("iris").Runtime;
        Assert.True(runtime.TryEnter()); // hold the only slot: requests pile up in the queue
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var pending = Enumerable.Range(0, 5).Select(_ => predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }).AsTask()).ToArray();
        for (var i = 0; i < 200 && registry.Get("iris").Features.Batcher!.QueueDepth < 4; i++)
        {
            await Task.Yield();
        }

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Degraded, report.Entries["model:iris"].Status);
        runtime.Exit();
        await Task.WhenAll(pending);
    }
}
