using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace ModelInService.Tests.Telemetry;

public class MetricsTests
{
    [Fact]
    public async Task Requests_AreCountedByOutcome_WithDurations()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var requests = new MetricCollector<long>(factory, "ModelInService", "model_in_service.requests");
        using var duration = new MetricCollector<double>(factory, "ModelInService", "model_in_service.request.duration");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(new IrisInput { Features = [1] }));

        var measurements = requests.GetMeasurementSnapshot();
        Assert.Equal(2, measurements.Where(m => (string?)m.Tags["outcome"] == "success").Sum(m => m.Value));
        Assert.Equal(1, measurements.Where(m => (string?)m.Tags["outcome"] == "invalid").Sum(m => m.Value));
        Assert.All(measurements, m => Assert.Equal("iris_mlp", m.Tags["model"]));
        Assert.Equal(3, duration.GetMeasurementSnapshot().Count); // failed requests have a duration too
        Assert.All(duration.GetMeasurementSnapshot(), m => Assert.InRange(m.Value, 0, 10));
    }

    [Fact]
    public async Task Batching_RecordsBatchSizeComputeAndQueueWait()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp).UseBatching(b => b.MaxDelay = TimeSpan.FromMilliseconds(5)));
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var sizes = new MetricCollector<int>(factory, "ModelInService", "model_in_service.batch.size");
        using var compute = new MetricCollector<double>(factory, "ModelInService", "model_in_service.batch.compute");
        using var wait = new MetricCollector<double>(factory, "ModelInService", "model_in_service.queue.wait");
        using var depth = new MetricCollector<long>(factory, "ModelInService", "model_in_service.queue.depth");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => predictor.PredictAsync(new IrisInput { Features = IrisSamples.Virginica }).AsTask()));

        Assert.Equal(40, sizes.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(sizes.GetMeasurementSnapshot().Count, compute.GetMeasurementSnapshot().Count);
        Assert.Equal(40, wait.GetMeasurementSnapshot().Count);
        depth.RecordObservableInstruments();
        Assert.Equal(0, depth.LastMeasurement!.Value);
    }

    [Fact]
    public async Task Cache_IsObservedAsCounterAndGauges()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp).UseCaching());
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var lookups = new MetricCollector<long>(factory, "ModelInService", "model_in_service.cache.requests");
        using var entries = new MetricCollector<long>(factory, "ModelInService", "model_in_service.cache.entries");
        using var version = new MetricCollector<long>(factory, "ModelInService", "model_in_service.model.version");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        for (var i = 0; i < 3; i++)
        {
            await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        }

        lookups.RecordObservableInstruments();
        entries.RecordObservableInstruments();
        version.RecordObservableInstruments();
        var snapshot = lookups.GetMeasurementSnapshot();
        Assert.Equal(2, snapshot.Single(m => (string?)m.Tags["result"] == "hit").Value);
        Assert.Equal(1, snapshot.Single(m => (string?)m.Tags["result"] == "miss").Value);
        Assert.Equal(1, entries.LastMeasurement!.Value);
        Assert.True(version.LastMeasurement!.Value > 0);
    }
}
