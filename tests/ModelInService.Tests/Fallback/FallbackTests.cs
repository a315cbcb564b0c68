using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace ModelInService.Tests.Fallback;

public class FallbackTests
{
    [Fact]
    public async Task BrokenModel_AnswersWithTheFallbackDelegate_CountedAsFallback()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("broken", o =>
        {
            o.Source = ModelSource.FromBytes([1, 2, 3], "broken");
            o.ContinueOnLoadError = true;
        }).UseFallback<IrisInput, IrisOutput>((input, error, ct) => ValueTask.FromResult(new IrisOutput { Label = -1 })));
        using var requests = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "ModelInService", "model_in_service.requests");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        var output = await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });

        Assert.Equal(-1, output.Label);
        Assert.Equal("fallback", requests.LastMeasurement!.Tags["outcome"]);
    }

    [Fact]
    public async Task FallbackModel_AnswersWhenThePrimaryIsOverloaded_ButBadInputIsStillRejected()
    {
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("primary", o => { o.Source = ModelSource.FromFile(TestModels.IrisMlp); o.MaxConcurrency = 1; })
                .UseBatching(b => { b.MaxQueueSize = 1; b.MaxBatchSize = 1; })
                .UseFallback("backup");
            s.AddModel<IrisInput, IrisOutput>("backup", o => o.Source = ModelSource.FromFile(TestModels.IrisFixed));
        });
        var registry = host.Services.GetRequiredService<ModelInService.Hosting.ModelRegistry>();
        var runtime = registry.Get("primary").Runtime;
        Assert.True(runtime.TryEnter()); // the primary is busy: its queue (1) fills at once
        var predictor = host.Services.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("primary");

        var first = predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }).AsTask();
        while (registry.Get("primary").Features.Batcher!.QueueDepth != 0)
        {
            await Task.Yield(); // the worker takes it and waits for the busy slot
        }

        var second = predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }).AsTask(); // fills the queue
        var overflow = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }).AsTask()));
        Assert.All(overflow, a => Assert.Equal(2, a.Label)); // answered at once by the backup model
        Assert.False(first.IsCompleted);

        await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(new IrisInput { Features = [1] }));
        runtime.Exit();
        Assert.Equal(2, (await first).Label);
        Assert.Equal(2, (await second).Label);
    }

    [Fact]
    public void FallbackWithOtherTypes_OrItself_IsRejected()
    {
        var services = new ServiceCollection();
        var builder = services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        Assert.Throws<InvalidOperationException>(() => builder.UseFallback<IrisFeatures, IrisOutput>((_, _, _) => default));
        Assert.Throws<ArgumentException>(() => builder.UseFallback("iris"));
    }
}
