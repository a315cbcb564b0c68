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
    public async Task PredictBatchAsync_CallsAndRows_AreCountedByOutcome_ApartFromRequests()
    {
        // PredictBatchAsync runs without the per-request stages: a service scoring through it showed no traffic at all.
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var calls = new MetricCollector<long>(factory, "ModelInService", ModelMetricNames.PredictBatchCalls);
        using var rows = new MetricCollector<long>(factory, "ModelInService", ModelMetricNames.PredictBatchRows);
        using var duration = new MetricCollector<double>(factory, "ModelInService", ModelMetricNames.PredictBatchDuration);
        using var requests = new MetricCollector<long>(factory, "ModelInService", ModelMetricNames.Requests);
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        await predictor.PredictBatchAsync(Enumerable.Range(0, 10).Select(_ => new IrisInput { Features = IrisSamples.Setosa }).ToArray());
        await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictBatchAsync([new IrisInput { Features = IrisSamples.Setosa }, new IrisInput { Features = [1] }]));

        Assert.Equal(1, calls.GetMeasurementSnapshot().Where(m => (string?)m.Tags["outcome"] == "success").Sum(m => m.Value));
        Assert.Equal(1, calls.GetMeasurementSnapshot().Where(m => (string?)m.Tags["outcome"] == "invalid").Sum(m => m.Value));
        Assert.Equal(10, rows.GetMeasurementSnapshot().Where(m => (string?)m.Tags["outcome"] == "success").Sum(m => m.Value));
        Assert.Equal(2, rows.GetMeasurementSnapshot().Where(m => (string?)m.Tags["outcome"] == "invalid").Sum(m => m.Value));
        Assert.All(calls.GetMeasurementSnapshot(), m => Assert.Equal("iris_mlp", m.Tags["model"]));
        Assert.Equal(2, duration.GetMeasurementSnapshot().Count);
        Assert.Empty(requests.GetMeasurementSnapshot()); // many rows in one call are not requests
    }

    [Theory]
    [InlineData("answers", "fallback")]
    [InlineData("throws", "failed")]
    [InlineData("null", "failed")]
    public async Task A_request_the_fallback_takes_over_is_counted_once_with_how_it_ended_and_the_fallbacks_time(string fallback, string outcome)
    {
        // An outside probe: counted below the fallback, before it ran, a fallback that failed too showed as
        // 'fallback' (an outage whose fallback was down read 0% failed) and its time was missing from the duration.
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("fb", o =>
            {
                o.Source = ModelSource.FromBytes([1, 2, 3], "garbage");
                o.ContinueOnLoadError = true;
            })
            .UseFallback<IrisInput, IrisOutput>(async (_, _, ct) =>
            {
                await Task.Delay(100, ct);
                return fallback switch
                {
                    "answers" => new IrisOutput { Label = 1 },
                    "throws" => throw new InvalidOperationException("the fallback is down too"),
                    _ => null!,
                };
            }));
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var requests = new MetricCollector<long>(factory, "ModelInService", "model_in_service.requests");
        using var duration = new MetricCollector<double>(factory, "ModelInService", "model_in_service.request.duration");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        for (var i = 0; i < 3; i++)
        {
            try
            {
                await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
            }
            catch (ModelLoadException)
            {
                Assert.NotEqual("answers", fallback);
            }
        }

        var counted = requests.GetMeasurementSnapshot();
        Assert.Equal(3, counted.Sum(m => m.Value));
        Assert.All(counted, m => Assert.Equal(outcome, m.Tags["outcome"]));
        Assert.Equal(3, duration.GetMeasurementSnapshot().Count);
        Assert.All(duration.GetMeasurementSnapshot(), m => Assert.True(m.Value >= 0.09, $"{m.Value} s: the fallback's 100 ms are part of the request"));
    }

    [Fact]
    public async Task Runs_that_fail_are_runs_in_batch_size_and_compute()
    {
        // An outside probe: a run that failed as a whole (here one row whose output is NaN) was not recorded in
        // batch.size or batch.compute: a model whose every run failed showed no batches and no compute time.
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o =>
            {
                o.Source = ModelSource.FromFile(TestModels.IrisMlp);
                o.NonFiniteValues = NonFiniteValuePolicy.Allow;
            })
            .UseBatching(b => b.MaxDelay = TimeSpan.FromMilliseconds(1)));
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var sizes = new MetricCollector<int>(factory, "ModelInService", "model_in_service.batch.size");
        using var compute = new MetricCollector<double>(factory, "ModelInService", "model_in_service.batch.compute");
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        for (var i = 0; i < 5; i++)
        {
            // NaN in every feature: ONNX Runtime runs it, the output is NaN, the row fails (non-finite output).
            await Assert.ThrowsAsync<ModelNonFiniteOutputException>(() => predictor.PredictAsync(new IrisInput { Features = [float.NaN, float.NaN, float.NaN, float.NaN] }).AsTask());
        }

        Assert.Equal(5, sizes.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(5, compute.GetMeasurementSnapshot().Count);
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

    [Fact]
    public async Task A_canarys_requests_are_counted_by_mode_version_and_outcome_beside_all_requests()
    {
        // The request figures count every answer whichever version gave it: the canary's share was invisible there.
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var candidate = new MetricCollector<long>(factory, "ModelInService", ModelMetricNames.CandidateRequests);
        using var requests = new MetricCollector<long>(factory, "ModelInService", ModelMetricNames.Requests);
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var manager = host.Services.GetRequiredKeyedService<IModelManager>("iris_mlp");
        candidate.RecordObservableInstruments();
        Assert.Empty(candidate.GetMeasurementSnapshot()); // no candidate, no series

        var canary = await manager.StartCanaryAsync(ModelSource.FromFile(TestModels.IrisFixed), 1.0);
        for (var i = 0; i < 3; i++)
        {
            await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        }

        candidate.RecordObservableInstruments();
        var success = candidate.GetMeasurementSnapshot().Last(m => (string?)m.Tags["outcome"] == "success");
        Assert.Equal(3, success.Value);
        Assert.Equal("canary", success.Tags["mode"]);
        Assert.Equal(canary.Version, success.Tags["version"]);
        Assert.Equal("iris_mlp", success.Tags["model"]);
        Assert.Equal(0, candidate.GetMeasurementSnapshot().Last(m => (string?)m.Tags["outcome"] == "failed").Value);
        Assert.Equal(3, requests.GetMeasurementSnapshot().Sum(m => m.Value)); // all answers, the canary's included
    }
}
